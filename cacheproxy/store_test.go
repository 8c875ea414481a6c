package cacheproxy

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestStoreAccounting runs random inserts (with Vary variants and tags),
// removals and evictions, and checks that the counters equal what the
// shards really hold and that the bound holds after every insert.
func TestStoreAccounting(t *testing.T) {
	s := newStore(50_000, 4)
	r := rand.New(rand.NewPCG(1, 2))
	var inserted []*object
	for i := range 5000 {
		switch op := r.IntN(10); {
		case op < 7:
			key := "h/k" + strconv.Itoa(r.IntN(200))
			o := &object{key: key, body: make([]byte, r.IntN(2000)), parts: &objectParts{tags: []string{"t" + strconv.Itoa(r.IntN(5))}}}
			if r.IntN(2) == 0 {
				o.variantOf = newVariant([]string{"Accept-Language"}, strconv.Itoa(r.IntN(maxVariants+4)))
			}
			o.seal()
			s.insert(o, nil)
			inserted = append(inserted, o)
			if s.used.Load() > s.maxBytes {
				t.Fatalf("op %d: %d bytes charged, bound %d", i, s.used.Load(), s.maxBytes)
			}
		case len(inserted) > 0:
			s.remove(inserted[r.IntN(len(inserted))])
		}
	}
	var objects, bytes int64
	for i := range s.shards {
		sh := &s.shards[i]
		queued := 0
		for o := sh.head; o != nil; o = o.older {
			queued++
			objects++
			bytes += o.size
			if o.removed {
				t.Fatal("a removed object is still queued")
			}
		}
		chained := 0
		for key, head := range sh.entries {
			n := 0
			for o := head; o != nil; o = o.nextVariant {
				n++
				if o.key != key {
					t.Fatalf("variant of %q under %q", o.key, key)
				}
			}
			if n > maxVariants {
				t.Fatalf("%q has %d variants, bound %d", key, n, maxVariants)
			}
			chained += n
		}
		if chained != queued {
			t.Fatalf("shard %d: %d objects in the map, %d in the queue", i, chained, queued)
		}
		var indexed []string
		sh.keys.Ascend(func(key string) bool { indexed = append(indexed, key); return true })
		if keys := slices.Sorted(maps.Keys(sh.entries)); !slices.Equal(indexed, keys) {
			t.Fatalf("shard %d: key index %q, map keys %q", i, indexed, keys)
		}
		for tag, set := range sh.tags {
			for o := range set {
				if o.removed {
					t.Fatalf("tag %q indexes a removed object", tag)
				}
			}
		}
	}
	if objects != s.objects.Load() || bytes != s.used.Load() {
		t.Fatalf("counters say %d objects / %d bytes, shards hold %d / %d", s.objects.Load(), s.used.Load(), objects, bytes)
	}
	if s.evictions.Load() == 0 {
		t.Fatal("no evictions: the test does not exercise the bound")
	}
}

// TestCountBannedAgreesWithAWalk checks the count of a ban's matches, which
// seeks each shard's key index to the patterns' literal prefixes, against a
// walk of every stored object, over random keys, Vary variants, removals
// and patterns with and without wildcards, overlapping ones included.
func TestCountBannedAgreesWithAWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := &Proxy{store: newStore(1<<40, 8)}
	hosts := []string{"a.example", "ab.example", "b.example"}
	segment := func() string { return []string{"x", "xy", "y", "img", "i"}[r.IntN(5)] }
	var stored []*object
	for range 3000 {
		key := hosts[r.IntN(len(hosts))] + "/" + segment() + "/" + segment()
		if r.IntN(3) == 0 {
			key += "?v=" + segment()
		}
		o := &object{key: key, storedAt: int64(r.IntN(10))}
		if r.IntN(4) == 0 {
			o.variantOf = newVariant([]string{"Accept-Language"}, segment())
		}
		o.seal()
		p.store.insert(o, nil)
		stored = append(stored, o)
		if r.IntN(5) == 0 {
			p.store.remove(stored[r.IntN(len(stored))])
		}
	}
	patterns := []string{
		"https://a.example/", "https://a.example/x", "https://a.example/x/", "https://a*.example/i",
		"https://*.example/*/img", "http://b.example/*?v=x", "https://ab.example/xy/y", "https://a.example/nothing/",
	}
	for trial := range 200 {
		var pats []banPattern
		for range 1 + r.IntN(3) {
			pat, err := compileBan(patterns[r.IntN(len(patterns))])
			if err != nil {
				t.Fatal(err)
			}
			pats = append(pats, pat)
		}
		at := int64(r.IntN(11))
		var want int64
		for i := range p.store.shards {
			p.store.scanShard(i, func(o *object) {
				if o.storedAt < at && anyMatch(pats, o.key) {
					want++
				}
			})
		}
		if got := p.countBanned(pats, at, 0); got != want {
			t.Fatalf("trial %d: %v before %d: counted %d, a walk finds %d", trial, pats, at, got, want)
		}
	}
}
