package gateway

import (
	"sync"
	"time"

	"k8s.io/utils/clock"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// DefaultCoalesceWindow is how long the gateway gathers requests of the
// same CacheProxy, mode and caller into one Purge, counted from the first
// one's arrival. Content systems send one save's invalidations as several
// requests within milliseconds (Magento and FOSHttpCache chunk their tag
// headers at 7.5 KB, Shopware at 50 tags, Fastly clients at 256 keys).
const DefaultCoalesceWindow = 250 * time.Millisecond

// coalescer gathers requests into batches, one open batch per key. A batch
// opens with its first request and closes window later; then flush creates
// its Purges and every request in it gets its answer.
type coalescer struct {
	window time.Duration
	clock  clock.WithDelayedExecution
	// flush creates the Purges of a closed batch, filling in its purges
	// or err, before the batch's done is closed.
	flush func(*batch)

	mu   sync.Mutex // guards open and joined
	open map[batchKey]*batch
	// joined counts the requests waiting in open batches; tests read it
	// to know that a burst has arrived before they move the clock.
	joined int
}

// batch is the requests of one key in one window.
type batch struct {
	key     batchKey
	members []*member
	// urls and tags are the union of the accepted members', in arrival
	// order; flush fills them in when the batch closes.
	urls, tags orderedSet
	// done is closed once purges or err is set.
	done   chan struct{}
	purges []*cachev1alpha1.Purge
	// err fails every member.
	err *problem
}

// member is one request in a batch.
type member struct {
	work work
	line string
	// err is set, before the batch's done is closed, when the API server
	// refuses this request's Purge: it gets this answer, and the batch's
	// Purges hold nothing of it.
	err *problem
}

// join adds one request's work to the open batch of k, opening a batch
// (and starting its window) if none is open. The caller waits on the
// batch's done, then reads the member's err and the batch's namesFor.
func (c *coalescer) join(k batchKey, w work, line string) (*batch, *member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.open[k]
	if !ok {
		b = &batch{key: k, done: make(chan struct{})}
		if c.open == nil {
			c.open = map[batchKey]*batch{}
		}
		c.open[k] = b
		c.clock.AfterFunc(c.window, func() { c.close(b) })
	}
	c.joined++
	m := &member{work: w, line: line}
	b.members = append(b.members, m)
	return b, m
}

// close stops b from taking requests, creates its Purges and answers its
// requests.
func (c *coalescer) close(b *batch) {
	c.mu.Lock()
	delete(c.open, b.key)
	c.joined -= len(b.members)
	c.mu.Unlock()
	c.flush(b)
	close(b.done)
}

// waiting is the number of requests in open batches.
func (c *coalescer) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined
}

// accept fills in the batch's URLs, tags and request lines from its
// members that nothing refused, and returns the lines.
func (b *batch) accept() (lines []string) {
	b.urls, b.tags = orderedSet{}, orderedSet{}
	for _, m := range b.members {
		if m.err != nil {
			continue
		}
		b.urls.add(m.work.urls...)
		b.tags.add(m.work.tags...)
		lines = append(lines, m.line)
	}
	return lines
}

// namesFor lists the Purges that hold w's URLs and tags, in order, once
// the batch is done: chunk gives the i-th Purge the i-th run of each list.
func (b *batch) namesFor(w work) []string {
	seen := map[int]bool{}
	var names []string
	note := func(i int) {
		if !seen[i] && i < len(b.purges) {
			seen[i] = true
			names = append(names, b.purges[i].Name)
		}
	}
	for _, u := range w.urls {
		note(b.urls.index[u] / cachev1alpha1.MaxPurgeURLs)
	}
	for _, t := range w.tags {
		note(b.tags.index[t] / cachev1alpha1.MaxPurgeTags)
	}
	return names
}

// nameOfTag is the Purge that holds tag, once the batch is done.
func (b *batch) nameOfTag(tag string) string {
	i := b.tags.index[tag] / cachev1alpha1.MaxPurgeTags
	if i < len(b.purges) {
		return b.purges[i].Name
	}
	return ""
}

// orderedSet keeps the first occurrence of each string, in order.
type orderedSet struct {
	list  []string
	index map[string]int
}

func (s *orderedSet) add(items ...string) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	for _, it := range items {
		if _, ok := s.index[it]; !ok {
			s.index[it] = len(s.list)
			s.list = append(s.list, it)
		}
	}
}
