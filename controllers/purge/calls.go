package purge

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// callTracker holds the admin calls in flight, per Purge, across reconcile
// passes. A pass starts the calls that are due and waits for them only so
// long (ProgressInterval), so a hung pod never holds back the status of the
// others; a call that ends later wakes its Purge through wake.
type callTracker struct {
	// wake receives the Purge of every call that ends. Sends never block:
	// a Purge with calls in flight also requeues itself after the call
	// timeout, so a dropped wake-up only delays it.
	wake chan event.GenericEvent

	mu     sync.Mutex // guards purges
	purges map[types.NamespacedName]*purgeCalls
}

// purgeCalls are the calls of one Purge, by pod name.
type purgeCalls struct {
	uid  types.UID
	pods map[string]*podCall
}

// podCall is one admin call. result is written once, before done closes.
type podCall struct {
	done   chan struct{}
	result callResult
	cancel context.CancelFunc
}

type callResult struct {
	endpoint string
	res      admin.InvalidationResult
	err      error
	at       time.Time
}

func newCallTracker() *callTracker {
	return &callTracker{
		wake:   make(chan event.GenericEvent, 1024),
		purges: map[types.NamespacedName]*purgeCalls{},
	}
}

// of returns the calls of purge, or nil if it has none. Calls of an
// earlier Purge of the same name are cancelled and dropped.
func (t *callTracker) of(purge *cachev1alpha1.Purge) *purgeCalls {
	key := types.NamespacedName{Namespace: purge.Namespace, Name: purge.Name}
	pc := t.purges[key]
	if pc != nil && pc.uid != purge.UID {
		pc.cancelAll()
		delete(t.purges, key)
		return nil
	}
	return pc
}

// busy counts the calls of purge that are running or whose result is not
// recorded yet, and reports whether pod has one: such a pod is not called
// again.
func (t *callTracker) busy(purge *cachev1alpha1.Purge, pod string) (n int, podBusy bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pc := t.of(purge)
	if pc == nil {
		return 0, false
	}
	_, podBusy = pc.pods[pod]
	return len(pc.pods), podBusy
}

// running names the pods of purge whose call has not ended.
func (t *callTracker) running(purge *cachev1alpha1.Purge) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]bool{}
	if pc := t.of(purge); pc != nil {
		for name, c := range pc.pods {
			select {
			case <-c.done:
			default:
				out[name] = true
			}
		}
	}
	return out
}

// start runs call for pod in the background, bounded by deadline, and
// wakes the Purge when it ends. The call outlives the reconcile pass that
// started it, so its context does not descend from the pass's.
func (t *callTracker) start(purge *cachev1alpha1.Purge, pod string, deadline time.Time, call func(context.Context) callResult) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	c := &podCall{done: make(chan struct{}), cancel: cancel}
	t.mu.Lock()
	pc := t.of(purge)
	if pc == nil {
		pc = &purgeCalls{uid: purge.UID, pods: map[string]*podCall{}}
		t.purges[types.NamespacedName{Namespace: purge.Namespace, Name: purge.Name}] = pc
	}
	pc.pods[pod] = c
	t.mu.Unlock()

	wakeUp := event.GenericEvent{Object: &metav1.PartialObjectMetadata{
		ObjectMeta: metav1.ObjectMeta{Namespace: purge.Namespace, Name: purge.Name},
	}}
	go func() {
		defer cancel()
		c.result = call(ctx)
		close(c.done)
		select {
		case t.wake <- wakeUp:
		default:
		}
	}()
}

// wait blocks until every call of purge has ended or timeout passed.
func (t *callTracker) wait(purge *cachev1alpha1.Purge, timeout time.Duration) {
	t.mu.Lock()
	var pending []chan struct{}
	if pc := t.of(purge); pc != nil {
		for _, c := range pc.pods {
			pending = append(pending, c.done)
		}
	}
	t.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for _, done := range pending {
		select {
		case <-done:
		case <-timer.C:
			return
		}
	}
}

// ended returns the results of the calls of purge that have ended, by
// pod. They stay until drop, so a pass whose status write fails records
// them again in the next.
func (t *callTracker) ended(purge *cachev1alpha1.Purge) map[string]callResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]callResult{}
	pc := t.of(purge)
	if pc == nil {
		return out
	}
	for name, c := range pc.pods {
		select {
		case <-c.done:
			out[name] = c.result
		default:
		}
	}
	return out
}

// drop forgets the given ended calls of purge: their results are in the
// status the API server holds.
func (t *callTracker) drop(purge *cachev1alpha1.Purge, pods []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pc := t.of(purge); pc != nil {
		for _, name := range pods {
			delete(pc.pods, name)
		}
	}
}

// forget cancels the calls of the Purge at key and drops its entry: it
// finished or was deleted.
func (t *callTracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pc := t.purges[key]; pc != nil {
		pc.cancelAll()
		delete(t.purges, key)
	}
}

func (pc *purgeCalls) cancelAll() {
	for _, c := range pc.pods {
		c.cancel()
	}
}
