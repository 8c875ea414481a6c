package localcluster

import (
	"testing"
	"time"
)

func TestRestartBackoff(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := restartBackoff{base: 10 * time.Second, max: 40 * time.Second}
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// The first exit restarts at once.
	if d := b.delay(at(0), at(0)); d != 0 {
		t.Fatalf("first delay = %v, want 0", d)
	}
	b.restarted(at(0))

	// Exiting 2s after that restart waits the rest of 10s.
	if d := b.delay(at(2*time.Second), at(2*time.Second)); d != 8*time.Second {
		t.Fatalf("second delay = %v, want 8s", d)
	}
	b.restarted(at(10 * time.Second))
	if b.current != 20*time.Second {
		t.Fatalf("back-off = %v, want 20s", b.current)
	}
	// A run longer than the back-off restarts at once, but still doubles.
	if d := b.delay(at(35*time.Second), at(35*time.Second)); d != 0 {
		t.Fatalf("delay after a long run = %v, want 0", d)
	}
	b.restarted(at(35 * time.Second))
	b.restarted(at(36 * time.Second))
	if b.current != 40*time.Second {
		t.Fatalf("back-off = %v, want the 40s cap", b.current)
	}
	// Quiet for more than twice the cap: start over.
	later := at(36*time.Second + 81*time.Second)
	if d := b.delay(later, later); d != 0 {
		t.Fatalf("delay after a quiet spell = %v, want 0", d)
	}
	b.restarted(later)
	if b.current != 10*time.Second {
		t.Fatalf("back-off after reset = %v, want 10s", b.current)
	}
}
