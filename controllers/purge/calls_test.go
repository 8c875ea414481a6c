package purge

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// The call tracker's tests start calls that block until the test lets
// them end, so each state (running, ended, dropped) is observed for sure,
// and no test sleeps: waiting is on channels, with a bound that only a
// broken tracker reaches.

const never = time.Minute

func trackedPurge(uid types.UID) *cachev1alpha1.Purge {
	return &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p", UID: uid}}
}

// blockingCall is a call that runs until release is closed or its context
// ends, and reports on started and cancelled.
type blockingCall struct {
	started, release, cancelled chan struct{}
}

func newBlockingCall() *blockingCall {
	return &blockingCall{started: make(chan struct{}), release: make(chan struct{}), cancelled: make(chan struct{})}
}

func (b *blockingCall) run(ctx context.Context) callResult {
	close(b.started)
	select {
	case <-b.release:
		return callResult{endpoint: "http://10.0.0.1:9090", res: admin.InvalidationResult{Invalidated: 3}}
	case <-ctx.Done():
		close(b.cancelled)
		return callResult{endpoint: "http://10.0.0.1:9090", err: ctx.Err()}
	}
}

// within fails the test unless ch closes or delivers within never.
func within[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(never):
		t.Fatalf("%s did not happen", what)
	}
}

func TestCallTrackerFollowsACallFromStartToDrop(t *testing.T) {
	tr := newCallTracker()
	purge := trackedPurge("uid-1")
	call := newBlockingCall()
	tr.start(purge, "pod-a", time.Now().Add(never), call.run)
	within(t, call.started, "the call's start")

	if n, busy := tr.busy(purge, "pod-a"); n != 1 || !busy {
		t.Errorf("busy(pod-a) = %d, %v while its call runs; want 1, true", n, busy)
	}
	if n, busy := tr.busy(purge, "pod-b"); n != 1 || busy {
		t.Errorf("busy(pod-b) = %d, %v; want 1, false: only pod-a has a call", n, busy)
	}
	if got := tr.running(purge); !got["pod-a"] || len(got) != 1 {
		t.Errorf("running = %v while pod-a's call runs", got)
	}
	if got := tr.ended(purge); len(got) != 0 {
		t.Errorf("ended = %v before the call ended", got)
	}
	// wait gives up after its timeout while the call still runs.
	waited := make(chan struct{})
	go func() { tr.wait(purge, time.Millisecond); close(waited) }()
	within(t, waited, "wait's return at its timeout")

	close(call.release)
	within(t, tr.wake, "the wake-up of the Purge")
	tr.wait(purge, never)
	ended := tr.ended(purge)
	if c, ok := ended["pod-a"]; !ok || c.err != nil || c.res.Invalidated != 3 {
		t.Errorf("ended = %+v, want pod-a's result", ended)
	}
	if got := tr.running(purge); len(got) != 0 {
		t.Errorf("running = %v after the call ended", got)
	}
	// An ended call stays until its result is in the status: a pass whose
	// status write fails records it again, and does not call the pod again.
	if n, busy := tr.busy(purge, "pod-a"); n != 1 || !busy {
		t.Errorf("busy(pod-a) = %d, %v before drop; want 1, true", n, busy)
	}
	if again := tr.ended(purge); len(again) != 1 {
		t.Errorf("ended the second time = %v, want the result again", again)
	}

	tr.drop(purge, []string{"pod-a"})
	if n, busy := tr.busy(purge, "pod-a"); n != 0 || busy {
		t.Errorf("busy(pod-a) = %d, %v after drop; want 0, false", n, busy)
	}
	if got := tr.ended(purge); len(got) != 0 {
		t.Errorf("ended = %v after drop", got)
	}
}

func TestCallTrackerWaitReturnsWhenEveryCallEnded(t *testing.T) {
	tr := newCallTracker()
	purge := trackedPurge("uid-1")
	calls := []*blockingCall{newBlockingCall(), newBlockingCall()}
	for i, c := range calls {
		tr.start(purge, []string{"pod-a", "pod-b"}[i], time.Now().Add(never), c.run)
	}
	waited := make(chan struct{})
	go func() { tr.wait(purge, never); close(waited) }()
	close(calls[0].release)
	select {
	case <-waited:
		t.Fatal("wait returned while pod-b's call still ran")
	case <-tr.wake:
	}
	close(calls[1].release)
	within(t, waited, "wait's return once both calls ended")
	if got := tr.ended(purge); len(got) != 2 {
		t.Errorf("ended = %v, want both", got)
	}
}

func TestCallTrackerForgetCancelsTheCalls(t *testing.T) {
	tr := newCallTracker()
	purge := trackedPurge("uid-1")
	call := newBlockingCall()
	tr.start(purge, "pod-a", time.Now().Add(never), call.run)
	within(t, call.started, "the call's start")

	tr.forget(types.NamespacedName{Namespace: "web", Name: "p"})
	within(t, call.cancelled, "the cancellation of the forgotten Purge's call")
	if n, busy := tr.busy(purge, "pod-a"); n != 0 || busy {
		t.Errorf("busy(pod-a) = %d, %v after forget; want 0, false", n, busy)
	}
}

func TestCallTrackerCancelsTheCallsOfAnEarlierPurgeOfTheSameName(t *testing.T) {
	tr := newCallTracker()
	old, recreated := trackedPurge("uid-1"), trackedPurge("uid-2")
	call := newBlockingCall()
	tr.start(old, "pod-a", time.Now().Add(never), call.run)
	within(t, call.started, "the call's start")

	// The Purge was deleted and created again under its name: the new one
	// has no calls, and the old one's are cancelled rather than counted.
	if n, busy := tr.busy(recreated, "pod-a"); n != 0 || busy {
		t.Errorf("busy(pod-a) of the new Purge = %d, %v; want 0, false", n, busy)
	}
	within(t, call.cancelled, "the cancellation of the earlier Purge's call")
	if got := tr.ended(recreated); len(got) != 0 {
		t.Errorf("the new Purge sees the earlier one's results: %v", got)
	}
}

func TestCallTrackerBoundsACallByItsDeadline(t *testing.T) {
	tr := newCallTracker()
	purge := trackedPurge("uid-1")
	call := newBlockingCall()
	tr.start(purge, "pod-a", time.Now(), call.run)
	within(t, call.cancelled, "the end of a call past its deadline")
	tr.wait(purge, never)
	if c := tr.ended(purge)["pod-a"]; !errors.Is(c.err, context.DeadlineExceeded) {
		t.Errorf("result %+v, want the deadline's error", c)
	}
}
