package gateway

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestTTLCache: a value is kept for its ttl and not an instant longer; a
// ttl of zero or less keeps nothing (a negative ReviewTTL turns reviews'
// reuse off).
func TestTTLCache(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cacheTTL  time.Duration
		putFor    time.Duration // 0: put, with the cache's ttl
		wantUntil time.Duration // how long the value is there; 0: never
	}{
		{"put", 10 * time.Second, 0, 10 * time.Second},
		{"putFor, shorter", 10 * time.Second, time.Second, time.Second},
		{"putFor, longer", time.Second, 10 * time.Second, 10 * time.Second},
		{"cache off", -1, 0, 0},
		{"putFor, nothing", 10 * time.Second, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(time.Now())
			c := ttlCache[bool]{clock: clk, ttl: tc.cacheTTL}
			if tc.putFor == 0 {
				c.put("k", true)
			} else {
				c.putFor("k", true, tc.putFor)
			}
			if _, ok := c.get("k"); ok != (tc.wantUntil > 0) {
				t.Fatalf("at once: found %v, want %v", ok, tc.wantUntil > 0)
			}
			if tc.wantUntil == 0 {
				return
			}
			clk.SetTime(clk.Now().Add(tc.wantUntil - time.Nanosecond))
			if _, ok := c.get("k"); !ok {
				t.Fatalf("gone before %v", tc.wantUntil)
			}
			clk.SetTime(clk.Now().Add(time.Nanosecond))
			if _, ok := c.get("k"); ok {
				t.Fatalf("still there at %v", tc.wantUntil)
			}
		})
	}
}
