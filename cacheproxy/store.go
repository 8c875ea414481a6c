package cacheproxy

import (
	"hash/maphash"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/btree"
)

// The store: objects in shards, each shard a map from primary key to the
// key's newest variant plus a SIEVE eviction queue and a tag index.
//
// Eviction is SIEVE (Zhang et al., NSDI 2024): a FIFO queue with a visited
// bit and a hand that walks from the oldest object toward the newest,
// clearing visited bits, and evicts the first object not visited since the
// hand last passed. A hit only sets an atomic bit under the shard's read
// lock, so hits never contend for a write lock (LRU would have to move the
// object on every hit), and on web traces SIEVE's miss ratio is at least as
// good as LRU's. One-hit wonders leave quickly; popular objects stay.
//
// Memory: every object is charged its size (object.seal), the sum is
// kept in one atomic counter, and a store that would exceed maxBytes evicts
// from the shards in turn until it fits. Between the insert and the
// eviction the bound can be exceeded by at most the objects being inserted
// at that moment (each at most the maximum object size).
//
// Each shard also keeps its keys in a B-tree, so that counting what a ban
// matches seeks to the ban's literal prefix instead of walking the whole
// cache: the answer to a ban over a million objects costs a seek per shard
// plus the keys under the prefix. Keeping the tree costs a miss one
// O(log n) insert under the write lock it already holds; hits never touch
// it.

// store holds the cached objects.
type store struct {
	shards   []shard
	mask     uint64
	seed     maphash.Seed
	maxBytes int64

	used      atomic.Int64  // bytes charged to stored objects and reserved by fetches (reserve)
	objects   atomic.Int64  // stored objects, variants counted apart
	evictions atomic.Int64  // objects evicted to stay under maxBytes
	cursor    atomic.Uint64 // next shard to evict from
}

// shard is one lock domain of the store.
type shard struct {
	// mu guards entries, tags, head, tail and hand, and the newer, older,
	// nextVariant and removed fields of every object in this shard.
	mu      sync.RWMutex
	entries map[string]*object              // primary key → newest variant
	keys    *btree.BTreeG[string]           // the keys of entries, in order
	tags    map[string]map[*object]struct{} // tag → objects carrying it
	head    *object                         // newest in the SIEVE queue
	tail    *object                         // oldest
	hand    *object                         // SIEVE hand; nil means start at tail
	_       [40]byte                        // keep neighbouring shards' locks off one cache line
}

// keyIndexDegree is the degree of the shards' key B-trees: nodes of up to
// 63 keys, a few cache lines of string headers each.
const keyIndexDegree = 32

// newStore returns an empty store of nShards (a power of two) shards.
func newStore(maxBytes int64, nShards int) *store {
	s := &store{shards: make([]shard, nShards), mask: uint64(nShards - 1), seed: maphash.MakeSeed(), maxBytes: maxBytes}
	for i := range s.shards {
		s.shards[i].entries = make(map[string]*object)
		s.shards[i].keys = btree.NewOrderedG[string](keyIndexDegree)
		s.shards[i].tags = make(map[string]map[*object]struct{})
	}
	return s
}

func (s *store) shardFor(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)&s.mask]
}

// lookup returns the variant of key that matches the request header h, or
// nil, and the Vary fields of the key's newest variant (nil if the key is
// not stored or has no Vary).
func (s *store) lookup(key string, h http.Header) (match *object, vary []string) {
	return lookupVariant(s.shardFor(key), key, func(fields []string) string { return variantValues(fields, h) })
}

// lookupVariant is lookup in key's shard sh, for a key in a string or, on
// the fast path, in bytes; values returns the request's variantValues for a
// list of Vary fields, in either form.
func lookupVariant[K, V string | []byte](sh *shard, key K, values func(fields []string) V) (match *object, vary []string) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	head := sh.entries[string(key)]
	if head == nil {
		return nil, nil
	}
	if head.variantOf == nil && head.nextVariant == nil {
		return head, nil // the common case: no Vary
	}
	var lastFields []string
	var v V
	for o := head; o != nil; o = o.nextVariant {
		fields := o.vary()
		if fields == nil {
			if o.variant() == "" {
				return o, head.vary()
			}
			continue
		}
		if lastFields == nil || !slices.Equal(fields, lastFields) {
			lastFields, v = fields, values(fields)
		}
		if o.variant() == string(v) {
			return o, head.vary()
		}
	}
	return nil, head.vary()
}

// variants returns every stored variant of key.
func (s *store) variants(key string) []*object {
	sh := s.shardFor(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	var out []*object
	for o := sh.entries[key]; o != nil; o = o.nextVariant {
		out = append(out, o)
	}
	return out
}

// insert stores o, replacing the variant with the same Vary values unless
// that one was fetched later, then evicts until the store fits its bound
// again. keep, if not nil, runs under
// the shard lock and may veto the insert (a ban registered meanwhile).
func (s *store) insert(o *object, keep func(*object) bool) bool {
	if o.data == nil {
		o.seal()
	}
	sh := s.shardFor(o.key)
	sh.mu.Lock()
	if !sh.admits(o, keep) {
		o.removed = true // never in the store: a later remove is a no-op
		sh.mu.Unlock()
		return false
	}
	var freed int64
	var dropped int64
	n := 0
	for v := sh.entries[o.key]; v != nil; {
		next := v.nextVariant
		n++
		if v.variant() == o.variant() || n >= maxVariants {
			freed += v.size
			dropped++
			sh.unlink(v)
		}
		v = next
	}
	// The index and the map take o's key string: a key string of a
	// variant that left would keep its allocation alive.
	sh.keys.ReplaceOrInsert(o.key)
	o.nextVariant = sh.entries[o.key]
	sh.entries[o.key] = o
	o.older = sh.head
	if sh.head != nil {
		sh.head.newer = o
	}
	sh.head = o
	if sh.tail == nil {
		sh.tail = o
	}
	for t := range o.tagList() {
		set := sh.tags[t]
		if set == nil {
			set = make(map[*object]struct{}, 1)
			sh.tags[strings.Clone(t)] = set // not o's data: the tag outlives o
		}
		set[o] = struct{}{}
	}
	sh.mu.Unlock()
	s.objects.Add(1 - dropped)
	s.used.Add(o.size - freed)
	s.evict()
	return true
}

// admits reports whether o may replace what the shard holds: keep allows
// it, and no copy of the same variant fetched later is stored (a refetch
// that overtook a slow miss stays). sh.mu is held.
func (sh *shard) admits(o *object, keep func(*object) bool) bool {
	if keep != nil && !keep(o) {
		return false
	}
	for v := sh.entries[o.key]; v != nil; v = v.nextVariant {
		if v.variant() == o.variant() && v.storedAt > o.storedAt {
			return false
		}
	}
	return true
}

// reserve charges n bytes for a body a fetch is about to buffer, evicting
// stored objects to make room, so stored objects and bodies in flight
// together stay under maxBytes (red team F6: concurrent large misses each
// buffered up to the maximum object size on top of a full cache). It
// returns false, charging nothing, when the bodies in flight alone would
// exceed the bound: the fetch then streams its answer without storing it.
func (s *store) reserve(n int64) bool {
	if s.used.Add(n) <= s.maxBytes {
		return true
	}
	s.evict()
	if s.used.Load() <= s.maxBytes {
		return true
	}
	s.used.Add(-n)
	return false
}

// release gives back bytes reserve charged.
func (s *store) release(n int64) { s.used.Add(-n) }

// evict removes objects, shard by shard in turn, until the store fits.
func (s *store) evict() {
	misses := 0
	for s.used.Load() > s.maxBytes && misses <= len(s.shards) {
		sh := &s.shards[s.cursor.Add(1)&s.mask]
		if size, ok := sh.evictOne(); ok {
			s.used.Add(-size)
			s.objects.Add(-1)
			s.evictions.Add(1)
			misses = 0
		} else {
			misses++
		}
	}
}

// evictOne runs the SIEVE hand and removes one object.
func (sh *shard) evictOne() (int64, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.tail == nil {
		return 0, false
	}
	o := sh.hand
	if o == nil {
		o = sh.tail
	}
	for o.visited.Load() {
		o.visited.Store(false)
		if o = o.newer; o == nil {
			o = sh.tail
		}
	}
	sh.hand = o.newer
	sh.unlink(o)
	return o.size, true
}

// remove takes o out of the store; false if it already left.
func (s *store) remove(o *object) bool {
	sh := s.shardFor(o.key)
	sh.mu.Lock()
	if o.removed {
		sh.mu.Unlock()
		return false
	}
	sh.unlink(o)
	sh.mu.Unlock()
	s.objects.Add(-1)
	s.used.Add(-o.size)
	return true
}

// unlink removes o from the shard's map, variant chain, queue and tag index.
// The caller holds sh.mu and adjusts the store's counters.
func (sh *shard) unlink(o *object) {
	if o.removed {
		return
	}
	o.removed = true
	// Variant chain.
	if head := sh.entries[o.key]; head == o {
		if o.nextVariant == nil {
			delete(sh.entries, o.key)
			sh.keys.Delete(o.key)
		} else {
			sh.entries[o.nextVariant.key] = o.nextVariant // the map and the index take its key string
			sh.keys.ReplaceOrInsert(o.nextVariant.key)
		}
	} else {
		for v := head; v != nil; v = v.nextVariant {
			if v.nextVariant == o {
				v.nextVariant = o.nextVariant
				break
			}
		}
	}
	// SIEVE queue.
	if sh.hand == o {
		sh.hand = o.newer
	}
	if o.newer != nil {
		o.newer.older = o.older
	} else {
		sh.head = o.older
	}
	if o.older != nil {
		o.older.newer = o.newer
	} else {
		sh.tail = o.newer
	}
	o.newer, o.older = nil, nil
	// Tags.
	for t := range o.tagList() {
		if set := sh.tags[t]; set != nil {
			delete(set, o)
			if len(set) == 0 {
				delete(sh.tags, t)
			}
		}
	}
}

// tagged returns the objects carrying tag, in a slice allocated once for
// the objects carrying it when called (a purge's allocations are what a
// collection running beside it charges it for).
func (s *store) tagged(tag string) []*object {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.tags[tag])
		sh.mu.RUnlock()
	}
	out := make([]*object, 0, n)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for o := range sh.tags[tag] {
			out = append(out, o)
		}
		sh.mu.RUnlock()
	}
	return out
}

// scanShard calls fn for each object of shard i under its read lock.
func (s *store) scanShard(i int, fn func(*object)) {
	sh := &s.shards[i]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for o := sh.head; o != nil; o = o.older {
		fn(o)
	}
}

// scanPrefix calls fn, under shard i's read lock and in key order, with
// each key of the shard that starts with prefix and its newest variant (the
// others hang off nextVariant). The empty prefix visits every key.
func (s *store) scanPrefix(i int, prefix string, fn func(key string, head *object)) {
	sh := &s.shards[i]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sh.keys.AscendGreaterOrEqual(prefix, func(key string) bool {
		if !strings.HasPrefix(key, prefix) {
			return false
		}
		fn(key, sh.entries[key])
		return true
	})
}
