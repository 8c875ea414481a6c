package purge

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// startDueCalls starts, in the background, a call to every target pod
// that is Pending, not gone, past its backoff and without a call in
// flight, at most Concurrency calls of the Purge at once, each bounded by
// CallTimeout. No call starts after the Purge's deadline. It writes no
// status: if the calls cannot start (the admin token cannot be read), it
// returns the due pods and why, for updateStatus to record.
func (r *Reconciler) startDueCalls(ctx context.Context, purge *cachev1alpha1.Purge, ps *pass) (unstarted []string, err error) {
	// A Purge that starts in this pass targets the pods it is about to
	// record (updateStatus: startPurge), all due at once.
	targets, start := purge.Status.Pods, ps.now
	if purge.Status.Started() {
		start = purge.Status.StartTime.Time
	} else {
		targets = targetsOf(ps.pods)
	}
	var due []*cachev1alpha1.PodPurgeStatus
	for i := range targets {
		p := &targets[i]
		if p.Phase != cachev1alpha1.PodPurgePending || isGone(p, ps.live) || nextAttempt(p, r.Backoff).After(ps.now) {
			continue
		}
		n, busy := r.calls.busy(purge, p.Name)
		if !busy && n+len(due) < r.concurrency() {
			due = append(due, p)
		}
	}
	if len(due) == 0 || !ps.now.Before(deadlineOf(purge, start)) {
		return nil, nil
	}

	token, err := r.adminToken(ctx, purge.Namespace, purge.Spec.CacheProxyRef.Name)
	if err != nil {
		for _, p := range due {
			unstarted = append(unstarted, p.Name)
		}
		return unstarted, err
	}

	// A call may run past the Purge's deadline: the pass that gives up at
	// the deadline cancels it, and the pod keeps the error of its last
	// finished attempt rather than that of a call cut short.
	req := invalidationFor(purge)
	for _, p := range due {
		endpoint := adminEndpoint(p.IP, fleet.AdminPort(ps.live[p.Name]))
		r.calls.start(purge, p.Name, ps.now.Add(r.callTimeout()), func(ctx context.Context) callResult {
			start := time.Now()
			res, err := r.Caller.Invalidate(ctx, endpoint, token, req)
			r.observeCall(time.Since(start), err)
			return callResult{endpoint: endpoint, res: res, err: err, at: r.Clock.Now()}
		})
	}
	return nil, nil
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

func (r *Reconciler) observeCall(d time.Duration, err error) {
	if r.Metrics == nil {
		return
	}
	if err == nil {
		r.Metrics.PodCallDuration.WithLabelValues("success").Observe(d.Seconds())
		return
	}
	r.Metrics.PodCallDuration.WithLabelValues("failure").Observe(d.Seconds())
	r.Metrics.PodCallFailures.WithLabelValues(string(classify(err).reason)).Inc()
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
