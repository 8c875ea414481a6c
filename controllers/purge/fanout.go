package purge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// startDueCalls starts, in the background, a call to every Pending pod
// whose backoff has elapsed and that has no call in flight, at most
// Concurrency calls of the Purge at once, each bounded by CallTimeout. No
// call starts after the Purge's deadline.
func (r *Reconciler) startDueCalls(ctx context.Context, purge *cachev1alpha1.Purge,
	live map[string]*corev1.Pod, status *cachev1alpha1.PurgeStatus, now time.Time) {
	var due []*cachev1alpha1.PodPurgeStatus
	for i := range status.Pods {
		p := &status.Pods[i]
		if p.Phase != cachev1alpha1.PodPurgePending || nextAttempt(p, r.Backoff).After(now) {
			continue
		}
		n, busy := r.calls.busy(purge, p.Name)
		if !busy && n+len(due) < r.concurrency() {
			due = append(due, p)
		}
	}
	deadline := deadlineOf(purge, status)
	if len(due) == 0 || !now.Before(deadline) {
		return
	}

	token, err := r.adminToken(ctx, purge.Namespace, purge.Spec.CacheProxyRef.Name)
	if err != nil {
		// Every due pod pays one attempt: the error shows on each, and the
		// backoff and deadline apply as for a failed call.
		for _, p := range due {
			recordCall(p, admin.InvalidationResult{}, err, now)
		}
		return
	}

	// A call may run past the Purge's deadline: the pass that gives up at
	// the deadline cancels it, and the pod keeps the error of its last
	// finished attempt rather than that of a call cut short.
	req := invalidationFor(purge)
	for _, p := range due {
		endpoint := adminEndpoint(p.IP, adminPort(live[p.Name]))
		r.calls.start(purge, p.Name, now.Add(r.callTimeout()), func(ctx context.Context) callResult {
			start := time.Now()
			res, err := r.Caller.Invalidate(ctx, endpoint, token, req)
			r.observeCall(time.Since(start), err)
			return callResult{endpoint: endpoint, res: res, err: err, at: r.Clock.Now()}
		})
	}
}

// recordEndedCalls folds the calls that ended into the pods' entries and
// returns the pods whose results it consumed. A pod no longer Pending
// (gone, given up) keeps its phase.
func (r *Reconciler) recordEndedCalls(purge *cachev1alpha1.Purge, status *cachev1alpha1.PurgeStatus) []string {
	ended := r.calls.ended(purge)
	consumed := make([]string, 0, len(ended))
	for name := range ended {
		consumed = append(consumed, name)
	}
	for i := range status.Pods {
		p := &status.Pods[i]
		c, ok := ended[p.Name]
		if !ok || p.Phase != cachev1alpha1.PodPurgePending {
			continue
		}
		err := c.err
		if err != nil {
			err = fmt.Errorf("calling %s: %w", c.endpoint, err)
		}
		recordCall(p, c.res, err, c.at)
	}
	return consumed
}

// invalidationFor is the admin request for a Purge. Its id, the Purge's
// UID and generation, makes retries idempotent on each pod: a pod that
// already applied it answers with its first result and acts no more.
func invalidationFor(purge *cachev1alpha1.Purge) admin.InvalidationRequest {
	mode := admin.ModeSimple
	switch purge.Spec.Mode {
	case cachev1alpha1.PurgeModeSimple, "":
		mode = admin.ModeSimple
	case cachev1alpha1.PurgeModeSoft:
		mode = admin.ModeSoft
	case cachev1alpha1.PurgeModeBan:
		mode = admin.ModeBan
	}
	return admin.InvalidationRequest{
		ID:      string(purge.UID) + "/" + strconv.FormatInt(purge.Generation, 10),
		Mode:    mode,
		URLs:    purge.Spec.URLs,
		Tags:    purge.Spec.Tags,
		Refetch: purge.Spec.Refetch,
		DryRun:  purge.Spec.DryRun,
	}
}

// adminToken reads a CacheProxy's admin token from its Secret.
func (r *Reconciler) adminToken(ctx context.Context, namespace, cacheProxy string) (string, error) {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: namespace, Name: fleet.TokenSecretName(cacheProxy)}
	if err := r.APIReader.Get(ctx, key, &secret); err != nil {
		return "", fmt.Errorf("reading admin token secret %s: %w", key, err)
	}
	token := secret.Data[fleet.TokenKey]
	if len(token) == 0 {
		return "", fmt.Errorf("admin token secret %s has no %q key", key, fleet.TokenKey)
	}
	return string(token), nil
}

// adminPort is the pod's container port named "admin", or the default.
func adminPort(pod *corev1.Pod) int32 {
	if pod != nil {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == fleet.AdminPortName {
					return p.ContainerPort
				}
			}
		}
	}
	return admin.DefaultPort
}

func (r *Reconciler) observeCall(d time.Duration, err error) {
	if r.Metrics == nil {
		return
	}
	if err == nil {
		r.Metrics.PodCallDuration.WithLabelValues("success").Observe(d.Seconds())
		return
	}
	r.Metrics.PodCallDuration.WithLabelValues("failure").Observe(d.Seconds())
	r.Metrics.PodCallFailures.WithLabelValues(failureReason(err)).Inc()
}

// failureReason classifies a failed call for the failures metric.
func failureReason(err error) string {
	var se *admin.StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized:
		return "unauthorized"
	case errors.As(err, &se) && se.StatusCode >= 500:
		return "server_error"
	case errors.As(err, &se):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "network"
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
