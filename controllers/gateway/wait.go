package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// outcome is where a request's Purges stand when its wait ends.
type outcome struct {
	// complete: every Purge completed.
	complete bool
	// failed names the Purges that failed.
	failed []string
	// invalidated sums the objects the Purges invalidated so far.
	invalidated int64
}

// waiter wakes requests waiting for their Purges when the manager's cache
// sees those Purges change.
type waiter struct {
	client client.Reader

	mu   sync.Mutex // guards subs
	subs map[types.NamespacedName][]chan struct{}
}

func newWaiter(c client.Reader) *waiter {
	return &waiter{client: c, subs: map[types.NamespacedName][]chan struct{}{}}
}

// handler is the informer event handler that wakes waiters.
func (w *waiter) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.notify(obj) },
		UpdateFunc: func(_, obj any) { w.notify(obj) },
	}
}

func (w *waiter) notify(obj any) {
	p, ok := obj.(*cachev1alpha1.Purge)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	w.mu.Lock()
	subs := w.subs[key]
	delete(w.subs, key)
	w.mu.Unlock()
	for _, c := range subs {
		close(c)
	}
}

// subscribe returns a channel closed at the next change of key.
func (w *waiter) subscribe(key types.NamespacedName) <-chan struct{} {
	c := make(chan struct{})
	w.mu.Lock()
	w.subs[key] = append(w.subs[key], c)
	w.mu.Unlock()
	return c
}

// unsubscribe forgets a subscription that no change closed.
func (w *waiter) unsubscribe(key types.NamespacedName, c <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	subs := w.subs[key]
	for i, s := range subs {
		if s == c {
			subs = append(subs[:i], subs[i+1:]...)
			break
		}
	}
	if len(subs) == 0 {
		delete(w.subs, key)
	} else {
		w.subs[key] = subs
	}
}

// wait waits up to d for the Purges names in namespace to finish and says
// where they stand then.
func (w *waiter) wait(ctx context.Context, namespace string, names []string, d time.Duration) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var out outcome
	out.complete = true
	for _, name := range names {
		key := types.NamespacedName{Namespace: namespace, Name: name}
		for {
			// Subscribe before reading, so a change between the two wakes us.
			changed := w.subscribe(key)
			var p cachev1alpha1.Purge
			err := w.client.Get(ctx, key, &p)
			if client.IgnoreNotFound(err) != nil && ctx.Err() == nil {
				return out, err
			}
			if err == nil && finished(&p) {
				out.invalidated += p.Status.ObjectsInvalidated
				if meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed) {
					out.failed = append(out.failed, name)
					out.complete = false
				}
				break
			}
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				w.unsubscribe(key, changed)
				out.complete = false
				if err == nil {
					out.invalidated += p.Status.ObjectsInvalidated
				}
			}
			break
		}
		if ctx.Err() != nil {
			out.complete = false
		}
	}
	return out, nil
}

// finished reports whether a Purge completed or failed.
func finished(p *cachev1alpha1.Purge) bool {
	return meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete) ||
		meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed)
}

// failure is the refusal of a request whose wait saw a Purge fail.
func (rec *receipt) failure() *problem {
	if !rec.waited || len(rec.outcome.failed) == 0 {
		return nil
	}
	return &problem{
		status: http.StatusBadGateway,
		msg:    fmt.Sprintf("Purge %s failed", strings.Join(rec.outcome.failed, ", ")),
		detail: fmt.Sprintf("some cache pods could not be purged; kubectl describe purge %s -n %s says which and why", rec.outcome.failed[0], rec.batch.key.namespace),
	}
}

// setWaitHeaders reports the outcome of a wait in headers, in every
// dialect: X-Purge-Complete: true|false and X-Purge-Invalidated: N.
func (rec *receipt) setWaitHeaders(w http.ResponseWriter) {
	if !rec.waited {
		return
	}
	w.Header().Set("X-Purge-Complete", strconv.FormatBool(rec.outcome.complete))
	w.Header().Set("X-Purge-Invalidated", strconv.FormatInt(rec.outcome.invalidated, 10))
}
