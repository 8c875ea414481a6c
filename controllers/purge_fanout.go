package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// callDuePods calls, concurrently and each with a timeout, every Pending
// pod whose backoff has elapsed, and records each answer in status.
func (r *PurgeReconciler) callDuePods(ctx context.Context, purge *cachev1alpha1.Purge,
	live map[string]*corev1.Pod, status *cachev1alpha1.PurgeStatus, now time.Time) {
	var due []*cachev1alpha1.PodPurgeStatus
	for i := range status.Pods {
		p := &status.Pods[i]
		if p.Phase == cachev1alpha1.PodPurgePending && !nextAttempt(p, r.Backoff).After(now) {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
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

	deadline := deadlineOf(purge, status)
	req := invalidationFor(purge)
	results := make([]callResult, len(due))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.concurrency())
	for i, p := range due {
		endpoint := adminEndpoint(p.IP, adminPort(live[p.Name]))
		g.Go(func() error {
			callCtx, cancel := context.WithDeadline(gctx, earliest(r.Clock.Now().Add(r.callTimeout()), deadline))
			defer cancel()
			start := time.Now()
			res, err := r.Caller.Invalidate(callCtx, endpoint, token, req)
			results[i] = callResult{res: res, err: err, at: r.Clock.Now()}
			r.observeCall(time.Since(start), err)
			return nil
		})
	}
	_ = g.Wait() // calls report their errors in results, never here
	for i, p := range due {
		err := results[i].err
		if err != nil {
			err = fmt.Errorf("calling %s: %w", adminEndpoint(p.IP, adminPort(live[p.Name])), err)
		}
		recordCall(p, results[i].res, err, results[i].at)
	}
}

type callResult struct {
	res admin.InvalidationResult
	err error
	at  time.Time
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
func (r *PurgeReconciler) adminToken(ctx context.Context, namespace, cacheProxy string) (string, error) {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: namespace, Name: tokenSecretName(cacheProxy)}
	if err := r.APIReader.Get(ctx, key, &secret); err != nil {
		return "", fmt.Errorf("reading admin token secret %s: %w", key, err)
	}
	token := secret.Data[TokenKey]
	if len(token) == 0 {
		return "", fmt.Errorf("admin token secret %s has no %q key", key, TokenKey)
	}
	return string(token), nil
}

// adminPort is the pod's container port named "admin", or the default.
func adminPort(pod *corev1.Pod) int32 {
	if pod != nil {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == adminPortName {
					return p.ContainerPort
				}
			}
		}
	}
	return admin.DefaultPort
}

func (r *PurgeReconciler) observeCall(d time.Duration, err error) {
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

func (r *PurgeReconciler) callTimeout() time.Duration {
	if r.CallTimeout > 0 {
		return r.CallTimeout
	}
	return 10 * time.Second
}

func (r *PurgeReconciler) concurrency() int {
	if r.Concurrency > 0 {
		return r.Concurrency
	}
	return 32
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
