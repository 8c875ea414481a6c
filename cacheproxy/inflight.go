package cacheproxy

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Fills in flight, and the invalidations that reach them.
//
// An invalidation must never be undone by a fetch that started before it
// and ends after it, however long that fetch runs (a slow origin, a client
// that reads slowly, a sweep of the ban list in between). So every fetch
// that may store registers here when it starts, taking its request time and
// the ban list's head under the same lock, and every invalidation marks the
// registered fetches it applies to, under that lock, before it touches the
// store:
//
//   - a simple purge (URL or tag), a ban, or an unsafe method's invalidation
//     (RFC 9111 §4.4) dooms the fetch: its answer still reaches the clients
//     that asked before the invalidation, but is never stored;
//   - a soft purge lets it be stored already soft-purged.
//
// An invalidation applies to fetches that started before its time T. A
// fetch that registers after the invalidation's pass started at or after T,
// so nothing is missed. Nothing is remembered once a fetch ends: an
// invalidation costs O(fetches in flight for its keys) for URLs, and O(all
// fetches in flight) for tags and bans, never O(history); the ban list can
// be trimmed after every sweep, because the fetches a trimmed ban could
// still apply to have been marked when it was registered.
//
// A tag purge cannot know a fetch's tags before its response headers
// arrive: such a fetch keeps the tag purges that reached it (at most
// maxPendingTagPurges, beyond which it is doomed) and applies them when it
// learns its tags.

// maxPendingTagPurges bounds the tag purges one fetch keeps while its
// response headers are outstanding; a fetch that collects more is doomed
// (its answer is not stored, which is always safe).
const maxPendingTagPurges = 1024

// inflight is the registry of fetches in flight.
type inflight struct {
	// mu guards byKey and every registered fetchMark's next, tags,
	// tagsKnown and pending.
	mu sync.Mutex
	// byKey holds the fetches of each key, linked by next: nearly always
	// one, so a list costs a miss nothing beyond its mark.
	byKey map[string]*fetchMark
}

// fetchMark is one registered fetch and what invalidations decided for it.
type fetchMark struct {
	key   string
	start int64      // request time, unix nanos: invalidations from T > start apply
	next  *fetchMark // the next fetch of key

	tags      []string // known once the response headers arrived
	tagsKnown bool
	pending   []pendingTagPurge // tag purges seen before the tags were known

	doomed atomic.Bool  // never store the answer
	softAt atomic.Int64 // store it soft-purged at this time (unix nanos), 0 if not
}

// pendingTagPurge is a tag purge that reached a fetch before its tags.
type pendingTagPurge struct {
	tag  string
	at   int64
	soft bool
}

func newInflight() *inflight {
	return &inflight{byKey: make(map[string]*fetchMark)}
}

// begin registers a fetch of key. now and banSeq are read under the lock,
// so that an invalidation either sees the fetch or started before it.
func (in *inflight) begin(key string, now func() int64, banSeq func() uint64) (*fetchMark, uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := &fetchMark{key: key, start: now(), next: in.byKey[key]}
	in.byKey[key] = m
	return m, banSeq()
}

// end forgets a fetch.
func (in *inflight) end(m *fetchMark) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for at, cur := (**fetchMark)(nil), in.byKey[m.key]; cur != nil; at, cur = &cur.next, cur.next {
		if cur != m {
			continue
		}
		switch {
		case at != nil:
			*at = m.next
		case m.next != nil:
			in.byKey[m.key] = m.next
		default:
			delete(in.byKey, m.key)
		}
		return
	}
}

// setTags records the fetch's tags and applies the tag purges that reached
// it before.
func (in *inflight) setTags(m *fetchMark, tags []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m.tags, m.tagsKnown = tags, true
	for _, pt := range m.pending {
		if slices.Contains(tags, pt.tag) {
			m.apply(pt.at, pt.soft)
		}
	}
	m.pending = nil
}

// purgeKeys applies a URL purge at time at to the fetches of keys.
func (in *inflight) purgeKeys(keys []string, at int64, soft bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, k := range keys {
		for m := in.byKey[k]; m != nil; m = m.next {
			if m.start < at {
				m.apply(at, soft)
			}
		}
	}
}

// purgeTags applies a tag purge at time at to every fetch carrying one of
// tags, or that may carry one once its headers arrive.
func (in *inflight) purgeTags(tags []string, at int64, soft bool) {
	if len(tags) == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, first := range in.byKey {
		for m := first; m != nil; m = m.next {
			if m.start >= at {
				continue
			}
			if !m.tagsKnown {
				if len(m.pending)+len(tags) > maxPendingTagPurges {
					m.doomed.Store(true)
					continue
				}
				for _, t := range tags {
					m.pending = append(m.pending, pendingTagPurge{tag: t, at: at, soft: soft})
				}
				continue
			}
			for _, t := range tags {
				if slices.Contains(m.tags, t) {
					m.apply(at, soft)
					break
				}
			}
		}
	}
}

// ban dooms the fetches that started before at and whose key a pattern
// matches.
func (in *inflight) ban(patterns []banPattern, at int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for key, first := range in.byKey {
		if !anyMatch(patterns, key) {
			continue
		}
		for m := first; m != nil; m = m.next {
			if m.start < at {
				m.doomed.Store(true)
			}
		}
	}
}

// apply records an invalidation at time at.
func (m *fetchMark) apply(at int64, soft bool) {
	if !soft {
		m.doomed.Store(true)
		return
	}
	for {
		cur := m.softAt.Load()
		if cur >= at || m.softAt.CompareAndSwap(cur, at) {
			return
		}
	}
}

// admit reports whether the object the fetch produced may be stored, and
// marks it soft-purged when a soft purge reached the fetch. It runs under
// the store's shard lock: an invalidation marks fetches before it looks at
// the store, so it either finds the object stored or has doomed it.
func (m *fetchMark) admit(o *object) bool {
	if m.doomed.Load() {
		return false
	}
	if at := m.softAt.Load(); at != 0 {
		o.softPurgedAt.Store(at)
	}
	return true
}
