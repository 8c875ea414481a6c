package purge

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/purgestatus"
)

// This file holds the pure functions that move a Purge's status forward:
// no client, no clock; the reconciler passes the time in.

// isTarget reports whether a pod holds a cache worth purging: it has an
// IP and is neither terminating nor dead. Readiness does not matter: an
// unready pod still holds its cache and may become ready.
func isTarget(p *corev1.Pod) bool {
	return p.Status.PodIP != "" && p.DeletionTimestamp.IsZero() &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// startPurge records the target pods, all Pending, and the start time.
func startPurge(s *cachev1alpha1.PurgeStatus, pods []corev1.Pod, now time.Time) {
	s.StartTime = &metav1.Time{Time: now}
	s.Pods = nil
	for i := range pods {
		if isTarget(&pods[i]) {
			s.Pods = append(s.Pods, cachev1alpha1.PodPurgeStatus{
				Name:  pods[i].Name,
				IP:    pods[i].Status.PodIP,
				Phase: cachev1alpha1.PodPurgePending,
			})
		}
	}
	sort.Slice(s.Pods, func(i, j int) bool { return s.Pods[i].Name < s.Pods[j].Name })
	if len(s.Pods) > maxTargetPods {
		s.Pods = s.Pods[:maxTargetPods]
	}
}

// maxTargetPods is the most pods one Purge records (the CRD's bound).
const maxTargetPods = 1000

// markGone marks Pending target pods that no longer exist, or now carry
// another IP, as Gone: their cache died with them.
func markGone(s *cachev1alpha1.PurgeStatus, live map[string]*corev1.Pod) {
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Phase != cachev1alpha1.PodPurgePending {
			continue
		}
		if pod, ok := live[p.Name]; !ok || pod.Status.PodIP != p.IP {
			p.Phase = cachev1alpha1.PodPurgeGone
		}
	}
}

// giveUp marks every Pending pod Failed once the deadline has passed.
// unanswered names the pods whose last call was still running: that call
// counts as an attempt that got no answer.
func giveUp(s *cachev1alpha1.PurgeStatus, deadline, now time.Time, unanswered map[string]bool) {
	if now.Before(deadline) {
		return
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.Phase != cachev1alpha1.PodPurgePending {
			continue
		}
		p.Phase = cachev1alpha1.PodPurgeFailed
		p.FailureReason = cachev1alpha1.PodFailureDeadlineExceeded
		why := "never called"
		switch {
		case unanswered[p.Name]:
			p.Attempts++
			why = "the last call got no answer in time"
		case p.LastError != "":
			why = "last error: " + p.LastError
		}
		p.LastError = purgestatus.Truncate(fmt.Sprintf("deadline exceeded after %d attempts; %s", p.Attempts, why))
	}
}

// recordCall folds the outcome of one admin call into the pod's entry.
func recordCall(p *cachev1alpha1.PodPurgeStatus, res admin.InvalidationResult, err error, at time.Time) {
	p.Attempts++
	p.LastAttemptTime = &metav1.Time{Time: at}
	if err != nil {
		p.LastError = purgestatus.Truncate(err.Error())
		if !retryable(err) {
			p.Phase = cachev1alpha1.PodPurgeFailed
			p.FailureReason = cachev1alpha1.PodFailureRefused
		}
		return
	}
	p.Phase = cachev1alpha1.PodPurgeSucceeded
	p.Matched, p.Invalidated, p.Refetched = res.Matched, res.Invalidated, res.Refetched
	p.LastError = purgestatus.Truncate(strings.Join(res.Errors, "; "))
}

// retryable reports whether calling again could succeed. A pod that
// refused the request itself (bad request, too large) refuses it again;
// anything else (network, 5xx, 401 while pods roll onto a new token) may
// pass later, until the deadline.
func retryable(err error) bool {
	var se *admin.StatusError
	if !errors.As(err, &se) {
		return true
	}
	switch se.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return false
	}
	return true
}

// nextAttempt is when a Pending pod is due: at once if never called,
// else after an exponential backoff from its last attempt.
func nextAttempt(p *cachev1alpha1.PodPurgeStatus, b Backoff) time.Time {
	if p.Attempts == 0 || p.LastAttemptTime == nil {
		return time.Time{}
	}
	return p.LastAttemptTime.Add(b.Delay(p.Attempts))
}
