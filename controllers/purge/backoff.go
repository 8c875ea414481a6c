package purge

import "time"

// Backoff spaces the retries of a pod that failed: Initial after the first
// failure, doubling each time, never more than Max.
type Backoff struct {
	// Initial is the delay after the first failed attempt. Zero means 1s.
	Initial time.Duration
	// Max caps the delay. Zero means 30s.
	Max time.Duration
}

// Delay is the wait after the given number of failed attempts (>= 1).
func (b Backoff) Delay(attempts int32) time.Duration {
	initial, maxDelay := b.Initial, b.Max
	if initial <= 0 {
		initial = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	d := initial
	for i := int32(1); i < attempts && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
