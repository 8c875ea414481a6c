package cacheproxy

import (
	"sync"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Idempotency of invalidations. The first receipt of an id fixes its time
// T and starts the work; a repeated id, concurrent or later, gets the first
// answer and changes nothing. Ids are remembered for IdempotencyTTL after
// their first receipt and at most IdempotencyEntries of them (the oldest
// are forgotten first). A forgotten id acts again, with a new T.
// Dry runs are remembered apart from real runs of the same id.

// idempotency remembers recent invalidation ids.
type idempotency struct {
	max int
	ttl time.Duration
	// mu guards entries and order.
	mu      sync.Mutex
	entries map[string]*idEntry
	order   []*idEntry // by first receipt, oldest first
}

// idEntry is one remembered id; result is valid once done is closed.
type idEntry struct {
	key    string
	at     time.Time
	done   chan struct{}
	result admin.InvalidationResult
}

func newIdempotency(max int, ttl time.Duration) *idempotency {
	return &idempotency{max: max, ttl: ttl, entries: make(map[string]*idEntry)}
}

// begin returns the entry of key and whether this call is its first
// receipt, in which case the caller must call finish.
func (m *idempotency) begin(key string, now time.Time) (*idEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropOldest(func(e *idEntry) bool { return now.Sub(e.at) > m.ttl })
	if e, ok := m.entries[key]; ok {
		return e, false
	}
	m.dropOldest(func(*idEntry) bool { return len(m.order) >= m.max })
	e := &idEntry{key: key, at: now, done: make(chan struct{})}
	m.entries[key] = e
	m.order = append(m.order, e)
	return e, true
}

// dropOldest forgets ids, oldest first, while drop says so. m.mu is held.
func (m *idempotency) dropOldest(drop func(*idEntry) bool) {
	for len(m.order) > 0 && drop(m.order[0]) {
		old := m.order[0]
		m.order[0] = nil
		m.order = m.order[1:]
		if m.entries[old.key] == old {
			delete(m.entries, old.key)
		}
	}
}

// finish records the first answer and releases the waiting duplicates.
func (m *idempotency) finish(e *idEntry, res admin.InvalidationResult) {
	e.result = res
	close(e.done)
}

// size is the number of remembered ids.
func (m *idempotency) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
