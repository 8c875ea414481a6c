package purge

import (
	"context"
	"fmt"
	"time"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// expiry is when a finished Purge with ttlSecondsAfterFinished is deleted.
func expiry(purge *cachev1alpha1.Purge) (time.Time, bool) {
	ttl, done := purge.Spec.TTLSecondsAfterFinished, purge.Status.CompletionTime
	if ttl == nil || done == nil {
		return time.Time{}, false
	}
	return done.Add(time.Duration(*ttl) * time.Second), true
}

// deleteIfExpired deletes a finished Purge once its TTL has passed, and
// otherwise asks to be called again then, as the Job TTL controller does.
func (r *Reconciler) deleteIfExpired(ctx context.Context, purge *cachev1alpha1.Purge) (ctrl.Result, error) {
	at, ok := expiry(purge)
	if !ok {
		return ctrl.Result{}, nil
	}
	if wait := at.Sub(r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// The UID precondition keeps a Purge re-created under the same name
	// from being deleted in its predecessor's place.
	err := r.Delete(ctx, purge, client.Preconditions{UID: &purge.UID}, client.PropagationPolicy("Background"))
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("deleting expired purge %s: %w", klog.KObj(purge), err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Deleted finished Purge after its TTL", "ttlSecondsAfterFinished", *purge.Spec.TTLSecondsAfterFinished)
	return ctrl.Result{}, nil
}
