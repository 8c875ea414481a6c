package cacheproxy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Idempotency of invalidations. The first receipt of an id fixes its time
// T and starts the work; a repeated id, concurrent or later, gets the first
// answer and changes nothing, or, when its body differs from the first
// one's, a conflictError (409) and changes nothing. Ids are remembered for IdempotencyTTL after
// their first receipt and at most IdempotencyEntries of them (the oldest
// are forgotten first). A forgotten id acts again, with a new T.
// Dry runs are remembered apart from real runs of the same id.
//
// The memory they take is bounded in bytes too (red team C9: 60 purges of
// 1000 long URLs whose refetches failed kept 248 MiB of error messages): an
// answer keeps at most maxResultErrors messages of at most maxErrorLength
// bytes (capErrors), and the oldest ids are forgotten while the remembered
// ids, answers included, are charged more than IdempotencyBytes.

// idempotency remembers recent invalidation ids.
type idempotency struct {
	max      int
	ttl      time.Duration
	maxBytes int64
	// mu guards entries, order and bytes.
	mu      sync.Mutex
	entries map[string]*idEntry
	order   []*idEntry // by first receipt, oldest first
	bytes   int64      // charged for the entries remembered (entrySize)
}

// idEntry is one remembered id; result is valid once done is closed.
type idEntry struct {
	key    string
	body   [sha256.Size]byte // the request's fingerprint (requestFingerprint)
	at     time.Time
	done   chan struct{}
	result admin.InvalidationResult
	size   int64 // what the entry is charged, set under idempotency.mu
}

func newIdempotency(max int, ttl time.Duration, maxBytes int64) *idempotency {
	return &idempotency{max: max, ttl: ttl, maxBytes: maxBytes, entries: make(map[string]*idEntry)}
}

// requestFingerprint is what identifies the body of an invalidation
// request, its id aside: a repeated id with another body is refused with
// 409 instead of answered with the first result (red team C12).
func requestFingerprint(req admin.InvalidationRequest) [sha256.Size]byte {
	req.ID, req.DryRun = "", false // the id is the key; dry runs are remembered apart
	b, _ := json.Marshal(req)      // a struct of strings and bools: never fails
	return sha256.Sum256(b)
}

// Bounds of a remembered answer's errors.
const (
	maxResultErrors = 20
	maxErrorLength  = 512
)

// capErrors keeps the first maxResultErrors messages, each cut to
// maxErrorLength bytes, and says how many more there were.
func capErrors(errs []string) []string {
	if len(errs) == 0 {
		return errs
	}
	n := min(len(errs), maxResultErrors)
	out := make([]string, 0, n+1)
	for _, e := range errs[:n] {
		if len(e) > maxErrorLength {
			e = strings.ToValidUTF8(e[:maxErrorLength-len("…")], "") + "…"
		}
		out = append(out, e)
	}
	if more := len(errs) - n; more > 0 {
		out = append(out, fmt.Sprintf("… and %d more errors", more))
	}
	return out
}

// entryOverhead is what an entry costs besides its strings: the entry, its
// map slot, its order slot and its channel.
const entryOverhead = 320

// entrySize is what e is charged: its strings and the overhead.
func entrySize(e *idEntry) int64 {
	n := int64(entryOverhead + len(e.key) + len(e.result.ID))
	for _, msg := range e.result.Errors {
		n += int64(len(msg)) + 16
	}
	return n
}

// begin returns the entry of key and whether this call is its first
// receipt, in which case the caller must call finish. body is the
// request's fingerprint, kept with the entry.
func (m *idempotency) begin(key string, body [sha256.Size]byte, now time.Time) (*idEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropOldest(func(e *idEntry) bool { return now.Sub(e.at) > m.ttl })
	if e, ok := m.entries[key]; ok {
		return e, false
	}
	m.dropOldest(func(*idEntry) bool { return len(m.order) >= m.max })
	e := &idEntry{key: key, body: body, at: now, done: make(chan struct{})}
	e.size = entrySize(e)
	m.entries[key] = e
	m.order = append(m.order, e)
	m.bytes += e.size
	return e, true
}

// dropOldest forgets ids, oldest first, while drop says so. m.mu is held.
func (m *idempotency) dropOldest(drop func(*idEntry) bool) {
	for len(m.order) > 0 && drop(m.order[0]) {
		old := m.order[0]
		m.order[0] = nil
		m.order = m.order[1:]
		m.bytes -= old.size
		if m.entries[old.key] == old {
			delete(m.entries, old.key)
		}
	}
}

// finish records the first answer and releases the waiting duplicates;
// the oldest ids are forgotten while the remembered ones take more than
// maxBytes.
func (m *idempotency) finish(e *idEntry, res admin.InvalidationResult) {
	e.result = res
	close(e.done)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries[e.key] == e {
		size := entrySize(e)
		m.bytes += size - e.size
		e.size = size
	}
	m.dropOldest(func(*idEntry) bool { return m.bytes > m.maxBytes })
}

// charged is what the remembered ids are charged, in bytes.
func (m *idempotency) charged() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// size is the number of remembered ids.
func (m *idempotency) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
