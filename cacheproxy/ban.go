package cacheproxy

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Bans, after Varnish's ban list.
//
// Registering a ban is O(1) whatever the cache holds: the ban is pushed on
// the head of a linked list with a sequence number and its time T. Every
// object remembers the sequence number of the newest ban it has been
// checked against (object.banSeq). A lookup compares that number with the
// list head (one atomic load when nothing changed) and, when bans are newer,
// checks just those against the object's URL and storage time: a ban
// applies to an object stored before its T. A banned object is removed and
// the request is a miss, so a ban takes effect on the very next request.
//
// A background sweeper (the "ban lurker") walks the shards, checks each
// object the same way, removes banned ones and brings every object's banSeq
// up to date; after a full pass, the bans every object has been checked
// against are cut off the list's tail, so the list only holds bans that
// still matter. A fetch in flight when a ban is registered is marked by it
// at once (inflight.go), so it never stores content the ban meant to
// invalidate, however many sweeps pass before it ends.

// ban is one registered ban.
type ban struct {
	seq     uint64
	at      int64 // T, unix nanos: the ban applies to objects stored before it
	pattern banPattern
	older   atomic.Pointer[ban]
}

// banList is the list of active bans, newest first.
type banList struct {
	head   atomic.Pointer[ban]
	active atomic.Int64
	// mu serialises add and trim, so sequence order is list order.
	mu  sync.Mutex
	seq uint64 // last sequence number handed out; guarded by mu
}

// add registers a ban at time at; constant time.
func (l *banList) add(p banPattern, at int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	b := &ban{seq: l.seq, at: at, pattern: p}
	b.older.Store(l.head.Load())
	l.head.Store(b)
	l.active.Add(1)
}

// headSeq is the sequence number an object fetched from now on starts from.
func (l *banList) headSeq() uint64 {
	if h := l.head.Load(); h != nil {
		return h.seq
	}
	return 0
}

// banned reports whether a ban newer than o's last check applies to o, and
// records the check when none does.
func (l *banList) banned(o *object) bool {
	h := l.head.Load()
	if h == nil {
		return false
	}
	if h.seq <= o.banSeq.Load() {
		return false
	}
	if l.bannedUpTo(o, h.seq) {
		return true
	}
	for {
		cur := o.banSeq.Load()
		if cur >= h.seq || o.banSeq.CompareAndSwap(cur, h.seq) {
			return false
		}
	}
}

// bannedUpTo reports whether a ban with a sequence number up to seq, and
// newer than o's last check, applies to o. It records nothing: an
// invalidation uses it to leave out what earlier bans already invalidated
// (red team K2) while its own bans, newer than seq, are registered.
func (l *banList) bannedUpTo(o *object, seq uint64) bool {
	checked := o.banSeq.Load()
	for b := l.head.Load(); b != nil && b.seq > checked; b = b.older.Load() {
		if b.seq <= seq && b.at > o.storedAt && b.pattern.match(o.key) {
			return true
		}
	}
	return false
}

// trim drops the bans with sequence numbers up to seq: every object has
// been checked against them.
func (l *banList) trim(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.head.Load()
	if h == nil {
		return
	}
	if h.seq <= seq {
		n := int64(0)
		for b := h; b != nil; b = b.older.Load() {
			n++
		}
		l.head.Store(nil)
		l.active.Add(-n)
		return
	}
	keep := h
	for b := h.older.Load(); b != nil && b.seq > seq; b = b.older.Load() {
		keep = b
	}
	n := int64(0)
	for b := keep.older.Load(); b != nil; b = b.older.Load() {
		n++
	}
	keep.older.Store(nil)
	l.active.Add(-n)
}

// sweep is one pass of the ban lurker: it removes banned objects from every
// shard and trims the list. It holds each shard's read lock while checking
// and its write lock only to remove what it found. It returns how many
// objects it removed.
func (l *banList) sweep(s *store) int64 {
	h := l.head.Load()
	if h == nil {
		return 0
	}
	start := h.seq
	var removed int64
	var doomed []*object
	for i := range s.shards {
		doomed = doomed[:0]
		s.scanShard(i, func(o *object) {
			if l.banned(o) {
				doomed = append(doomed, o)
			}
		})
		for _, o := range doomed {
			if s.remove(o) {
				removed++
			}
		}
	}
	l.trim(start)
	return removed
}

// sweepLoop runs the ban sweeper until Close.
func (p *Proxy) sweepLoop() {
	t := time.NewTicker(p.cfg.BanSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-p.bgCtx.Done():
			return
		case <-t.C:
			if n := p.bans.sweep(p.store); n > 0 {
				p.log.Debug("Ban sweep", "removed", n, "activeBans", p.bans.active.Load())
			}
		}
	}
}

// banPattern is a compiled ban: a host pattern and a prefix over the path
// and query of cache keys, in which "*" matches any run of characters. In
// the host, "*" matches within the host only and the whole host must
// match ("http://*.example.com/" never matches "other.org/x.example.com/",
// red team C16); the path part is a prefix (an implicit trailing "*").
type banPattern struct {
	raw      string
	host     string   // the host part in key form, "*" included
	hostSegs []string // host split at "*"; one segment when it has no "*"
	pathSegs []string // the path and query in key form, split at "*"
	prefix   string   // the literal prefix of every key it matches: a key index seek
}

// compileBan parses a ban pattern as purge URLs are parsed (admin.ParseURL):
// the scheme is dropped, the host lower-cased with ports 80 and 443 removed
// (cachekey.Host), and the path and query put in key form as
// admin.URL.BanPath says (a final "?" is kept: a prefix). A "*" is a
// wildcard; a literal star is written "%2A", and matches the "*" keys hold
// for both spellings of it (cachekey).
func compileBan(raw string) (banPattern, error) {
	u, err := admin.ParseURL(raw)
	if err != nil {
		return banPattern{}, err
	}
	host, pq := cachekey.Host(u.Authority), u.BanPath()
	p := banPattern{raw: raw, host: host, hostSegs: strings.Split(host, "*"), pathSegs: strings.Split(pq, "*")}
	for i, seg := range p.pathSegs {
		// Every '%' of a key-form string starts an escape, so this
		// replaces escapes, never text that merely looks like one.
		p.pathSegs[i] = strings.ReplaceAll(seg, "%2A", "*")
	}
	p.prefix = p.hostSegs[0]
	if len(p.hostSegs) == 1 {
		p.prefix = host + p.pathSegs[0]
	}
	return p, nil
}

// match reports whether key is matched: its host by the host pattern, and
// its path and query by the path prefix.
func (p *banPattern) match(key string) bool {
	host := keyHost(key)
	if len(p.hostSegs) == 1 {
		if host != p.host {
			return false
		}
	} else if !globMatch(p.hostSegs, host) {
		return false
	}
	return prefixMatch(p.pathSegs, key[len(host):])
}

// prefixMatch reports whether s starts with the pattern segs joined by
// "*", each "*" matching any run of characters. Because the pattern is a
// prefix (an implicit trailing "*"), taking each literal segment at its
// leftmost occurrence is exact.
func prefixMatch(segs []string, s string) bool {
	if !strings.HasPrefix(s, segs[0]) {
		return false
	}
	s = s[len(segs[0]):]
	for _, seg := range segs[1:] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// globMatch reports whether the whole of s matches segs joined by "*":
// the first segment is a prefix, the last a suffix, and the ones between
// are taken at their leftmost occurrence in what lies between.
func globMatch(segs []string, s string) bool {
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// hasWildcardHost reports whether the pattern's host contains "*".
func (p *banPattern) hasWildcardHost() bool { return len(p.hostSegs) > 1 }
