package cacheproxy

import (
	"math/rand/v2"
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
			o := &object{key: key, body: make([]byte, r.IntN(2000)), tags: []string{"t" + strconv.Itoa(r.IntN(5))}}
			if r.IntN(2) == 0 {
				o.vary = []string{"Accept-Language"}
				o.variant = strconv.Itoa(r.IntN(maxVariants + 4))
			}
			o.computeSize()
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
