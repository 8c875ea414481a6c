package localcluster

import "time"

// restartBackoff is the kubelet's crash-loop back-off for one container: the
// first restart is immediate; after that a container that exits within the
// current back-off of its last restart waits out the rest of it, and each
// restart doubles the back-off up to max. A container whose last restart is
// older than twice max starts over.
type restartBackoff struct {
	base, max time.Duration

	current     time.Duration // zero before the first restart
	lastRestart time.Time
}

// delay returns how long a container that exited at exitedAt still waits
// at now before its next start.
func (b *restartBackoff) delay(exitedAt, now time.Time) time.Duration {
	if b.expired(now) || exitedAt.Sub(b.lastRestart) >= b.current {
		return 0
	}
	return max(0, b.lastRestart.Add(b.current).Sub(now))
}

// restarted records a restart at now and grows the back-off.
func (b *restartBackoff) restarted(now time.Time) {
	if b.expired(now) {
		b.current = b.base
	} else {
		b.current = min(2*b.current, b.max)
	}
	b.lastRestart = now
}

func (b *restartBackoff) expired(now time.Time) bool {
	return b.current == 0 || now.Sub(b.lastRestart) > 2*b.max
}
