package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// This file holds the pure functions that move a Purge's status forward:
// no client, no clock; the reconciler passes the time in.

// maxLastError bounds PodPurgeStatus.LastError (the CRD allows 1024).
const maxLastError = 1000

// isFinished reports whether the Purge reached Complete or Failed.
func isFinished(s *cachev1alpha1.PurgeStatus) bool {
	return s.Phase == cachev1alpha1.PurgeComplete || s.Phase == cachev1alpha1.PurgeFailed
}

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
		why := "never called"
		switch {
		case unanswered[p.Name]:
			p.Attempts++
			why = "the last call got no answer in time"
		case p.LastError != "":
			why = "last error: " + p.LastError
		}
		p.LastError = truncate(fmt.Sprintf("deadline exceeded after %d attempts; %s", p.Attempts, why))
	}
}

// recordCall folds the outcome of one admin call into the pod's entry.
func recordCall(p *cachev1alpha1.PodPurgeStatus, res admin.InvalidationResult, err error, at time.Time) {
	p.Attempts++
	p.LastAttemptTime = &metav1.Time{Time: at}
	if err != nil {
		p.LastError = truncate(err.Error())
		if !retryable(err) {
			p.Phase = cachev1alpha1.PodPurgeFailed
		}
		return
	}
	p.Phase = cachev1alpha1.PodPurgeSucceeded
	p.Matched, p.Invalidated, p.Refetched = res.Matched, res.Invalidated, res.Refetched
	p.LastError = truncate(strings.Join(res.Errors, "; "))
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

// summarize recomputes the totals, progress and phase from the pods, and
// sets the conditions. completion is stamped the first time the Purge
// ends.
func summarize(s *cachev1alpha1.PurgeStatus, generation int64, now time.Time) {
	s.ObservedGeneration = generation
	s.TargetPods = int32(len(s.Pods))
	s.SucceededPods, s.FailedPods, s.GonePods = 0, 0, 0
	s.ObjectsMatched, s.ObjectsInvalidated, s.ObjectsRefetched = 0, 0, 0
	pending := 0
	for _, p := range s.Pods {
		switch p.Phase {
		case cachev1alpha1.PodPurgeSucceeded:
			s.SucceededPods++
		case cachev1alpha1.PodPurgeFailed:
			s.FailedPods++
		case cachev1alpha1.PodPurgeGone:
			s.GonePods++
		case cachev1alpha1.PodPurgePending:
			pending++
		}
		s.ObjectsMatched += p.Matched
		s.ObjectsInvalidated += p.Invalidated
		s.ObjectsRefetched += p.Refetched
	}
	if s.StartTime == nil {
		s.Phase, s.Progress = cachev1alpha1.PurgePending, ""
	} else {
		s.Progress = fmt.Sprintf("%d/%d", s.SucceededPods+s.GonePods, s.TargetPods)
		switch {
		case pending > 0:
			s.Phase = cachev1alpha1.PurgeRunning
		case s.FailedPods > 0:
			s.Phase = cachev1alpha1.PurgeFailed
		default:
			s.Phase = cachev1alpha1.PurgeComplete
		}
	}
	if isFinished(s) && s.CompletionTime == nil {
		s.CompletionTime = &metav1.Time{Time: now}
	}
	setCompleteCondition(s, generation)
	setFailedCondition(s, generation)
}

// setTargetResolvedCondition says whether the CacheProxy was found.
func setTargetResolvedCondition(s *cachev1alpha1.PurgeStatus, generation int64, cacheProxy string, found bool) {
	c := metav1.Condition{
		Type:               cachev1alpha1.PurgeConditionTargetResolved,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: generation,
		Reason:             cachev1alpha1.ReasonTargetsChosen,
		Message:            fmt.Sprintf("CacheProxy %s found; %d target pods recorded", cacheProxy, len(s.Pods)),
	}
	if !found {
		c.Status = metav1.ConditionFalse
		c.Reason = cachev1alpha1.ReasonCacheProxyNotFound
		c.Message = fmt.Sprintf("CacheProxy %s does not exist in this namespace; the Purge starts when it does", cacheProxy)
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// setCompleteCondition is True once every target pod succeeded or is gone.
func setCompleteCondition(s *cachev1alpha1.PurgeStatus, generation int64) {
	c := metav1.Condition{
		Type:               cachev1alpha1.PurgeConditionComplete,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: generation,
		Reason:             cachev1alpha1.ReasonInProgress,
		Message:            fmt.Sprintf("%s target pods done", s.Progress),
	}
	switch s.Phase {
	case cachev1alpha1.PurgePending:
		c.Message = "waiting for the CacheProxy"
	case cachev1alpha1.PurgeComplete:
		c.Status, c.Reason = metav1.ConditionTrue, cachev1alpha1.ReasonAllPodsDone
		c.Message = fmt.Sprintf("%d pods succeeded, %d gone; %d objects invalidated, %d refetched",
			s.SucceededPods, s.GonePods, s.ObjectsInvalidated, s.ObjectsRefetched)
		if s.TargetPods == 0 {
			c.Reason, c.Message = cachev1alpha1.ReasonNoTargetPods, "the CacheProxy had no pod with an IP: no cache to purge"
		}
	case cachev1alpha1.PurgeFailed:
		c.Reason, c.Message = failedReason(s), "some target pods failed; see the Failed condition"
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// setFailedCondition is True, naming the pods, once some pod was given up.
func setFailedCondition(s *cachev1alpha1.PurgeStatus, generation int64) {
	c := metav1.Condition{
		Type:               cachev1alpha1.PurgeConditionFailed,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: generation,
		Reason:             cachev1alpha1.ReasonInProgress,
		Message:            "no target pod failed",
	}
	if s.Phase == cachev1alpha1.PurgeComplete {
		c.Reason = cachev1alpha1.ReasonAllPodsDone
	}
	if s.Phase == cachev1alpha1.PurgeFailed {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, failedReason(s), failedMessage(s)
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// failedReason is DeadlineExceeded when some pod ran out of time, else
// PodsRefused.
func failedReason(s *cachev1alpha1.PurgeStatus) string {
	for _, p := range s.Pods {
		if p.Phase == cachev1alpha1.PodPurgeFailed && strings.HasPrefix(p.LastError, "deadline exceeded") {
			return cachev1alpha1.ReasonDeadlineExceeded
		}
	}
	return cachev1alpha1.ReasonPodsRefused
}

// failedMessage names the failed pods and why, for kubectl describe.
func failedMessage(s *cachev1alpha1.PurgeStatus) string {
	const shown = 10
	var parts []string
	for _, p := range s.Pods {
		if p.Phase != cachev1alpha1.PodPurgeFailed {
			continue
		}
		if len(parts) == shown {
			parts = append(parts, fmt.Sprintf("and %d more", int(s.FailedPods)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", p.Name, p.LastError))
	}
	return truncate(fmt.Sprintf("%d of %d target pods failed: %s", s.FailedPods, s.TargetPods, strings.Join(parts, "; ")))
}

func truncate(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	return s[:maxLastError-3] + "..."
}
