package cacheproxy

import (
	"context"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// GC tuning: the collector lets the heap grow by GOGC percent of what it
// found live before it runs again (100 by default), and RSS follows that
// peak. When the heap is mostly stored objects, which live until evicted,
// that doubles the memory they cost; a cache of a million small objects
// then pays a million times their heap size again in RSS for garbage that
// a proxy's requests make in a fraction of a second. TuneGC keeps the
// growth between collections near a fixed headroom instead once the live
// heap is larger than it: the percentage falls as the store grows, never
// above GOGC's default and never below minGCPercent. A smaller heap (the
// proxy serving a few thousand objects) keeps the default, and with it the
// default's CPU: the price of a lower percentage is more collections, each
// marking the whole live heap, so the collector's work per allocated byte
// grows by 100/percentage (at most 4×, minGCPercent), and a request that
// allocates while a collection runs pays for part of it in mark assists.
// That is why purges once ran severalfold slower with the headroom: a tag
// purge allocated per object it matched (invalidate.go no longer does).
// docs/benchmarks.md ("Memory per object") measures it: RSS per object
// below Varnish's with the headroom, purges as fast as without, which is
// why cmd/cacheproxy runs it by default (--gc-headroom=64Mi).

// DefaultGCHeadroom is cmd/cacheproxy's --gc-headroom: about the heap a
// proxy's requests allocate in a second or two under load, small beside
// a store of a few hundred thousand objects.
const DefaultGCHeadroom = 64 << 20

// minGCPercent bounds how far TuneGC lowers the percentage: at 25 %, a
// collection runs per quarter of the live heap allocated, four times as
// often as at GOGC 100; lower, the collector's CPU would grow faster than
// the memory it saves (a store twice as large saves half as much per step).
const minGCPercent = 25

// gcPercent is the GOGC percentage that lets a heap with live bytes grow
// by about headroom before the next collection.
func gcPercent(live, headroom int64) int {
	if live <= headroom {
		return 100
	}
	return max(int(headroom*100/live), minGCPercent)
}

// TuneGC sets the GC percentage every interval from the live heap the
// last collection found (gcPercent) until ctx ends, then restores the
// percentage it found. Run it once per process, in a goroutine.
func TuneGC(ctx context.Context, headroom int64, interval time.Duration) {
	initial := debug.SetGCPercent(100)
	defer debug.SetGCPercent(initial)
	sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		rtmetrics.Read(sample)
		if sample[0].Value.Kind() == rtmetrics.KindUint64 {
			// Setting the percentage costs a short stop of the world: only
			// when it moved by more than a tenth.
			if want := gcPercent(int64(sample[0].Value.Uint64()), headroom); want*10 < current*9 || want*10 > current*11 {
				debug.SetGCPercent(want)
				current = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
