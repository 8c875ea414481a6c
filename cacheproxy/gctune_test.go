package cacheproxy

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live, headroom int64
		want           int
	}{
		{0, 64 << 20, 100},
		{64 << 20, 64 << 20, 100},
		{128 << 20, 64 << 20, 50},
		{256 << 20, 64 << 20, 25},
		{1 << 40, 64 << 20, minGCPercent},
	} {
		if got := gcPercent(tc.live, tc.headroom); got != tc.want {
			t.Errorf("gcPercent(%d, %d) = %d, want %d", tc.live, tc.headroom, got, tc.want)
		}
	}
}

// TestTuneGC: with a live heap four times the headroom, the percentage
// falls to about 25, and comes back when TuneGC ends.
func TestTuneGC(t *testing.T) {
	live := make([]byte, 128<<20)
	runtime.GC()
	before := gogc()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		TuneGC(ctx, 32<<20, time.Millisecond)
	}()
	deadline := time.After(time.Minute)
	for p := gogc(); p > 30; p = gogc() {
		select {
		case <-deadline:
			t.Fatalf("GOGC still %d with %d MiB live and 32 MiB headroom", p, len(live)>>20)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
	if p := gogc(); p != before {
		t.Errorf("GOGC %d after TuneGC ended, was %d", p, before)
	}
	runtime.KeepAlive(live)
}

func gogc() int {
	s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(s)
	return int(s[0].Value.Uint64())
}
