package purge

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/purgestatus"
)

// This file computes a Purge's status from what one pass observed:
// updateStatus lists the steps in the order they happen; the functions
// below it are pure (no client, no clock: the pass's time is passed in).

// pass is what one reconcile pass observed: the input of updateStatus.
type pass struct {
	// now is the pass's time, read once: starts, failed starts and the
	// deadline are judged by it.
	now time.Time
	// found says whether the CacheProxy exists; pods are its fleet's pods
	// and live the same by name, plus the target pods confirmed to exist.
	found bool
	pods  []corev1.Pod
	live  map[string]*corev1.Pod
	// unstarted names the due pods whose call could not start, and
	// startErr says why (reading the admin token failed).
	unstarted []string
	startErr  error
	// ended holds the results of the calls that ended, by pod; running
	// names the pods whose call has not ended.
	ended   map[string]callResult
	running map[string]bool
}

// updateStatus computes the status of one pass from what it observed, in
// the order things happened: the targets are chosen once, deleted targets
// are gone, the calls that could not start and those that ended count as
// attempts, the pods still unanswered at the deadline are given up; then
// the conditions and the summary say what that means.
func updateStatus(s *cachev1alpha1.PurgeStatus, purge *cachev1alpha1.Purge, ps *pass) {
	if ps.found && !s.Started() {
		startPurge(s, ps.pods, ps.now)
	}
	// Once started, a Purge runs to its end even if its CacheProxy is
	// deleted: the target pods are purged or gone by the deadline.
	if s.Started() {
		markGone(s, ps.live)
		recordFailedStarts(s, ps.unstarted, ps.startErr, ps.now)
		recordEndedCalls(s, ps.ended)
		giveUp(s, deadlineOf(purge, s.StartTime.Time), ps.now, ps.running)
	}
	purgestatus.SetTargetResolvedCondition(s, purge.Generation, purge.Spec.CacheProxyRef.Name, s.Started())
	purgestatus.Summarize(s, purge.Generation, ps.now)
}

// isTarget reports whether a pod holds a cache worth purging: it has an
// IP and is neither terminating nor dead. Readiness does not matter: an
// unready pod still holds its cache and may become ready.
func isTarget(p *corev1.Pod) bool {
	return p.Status.PodIP != "" && p.DeletionTimestamp.IsZero() &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// targetsOf are the entries, all Pending and sorted by name, of the pods a
// Purge starting now targets.
func targetsOf(pods []corev1.Pod) []cachev1alpha1.PodPurgeStatus {
	var targets []cachev1alpha1.PodPurgeStatus
	for i := range pods {
		if isTarget(&pods[i]) {
			targets = append(targets, cachev1alpha1.PodPurgeStatus{
				Name:  pods[i].Name,
				IP:    pods[i].Status.PodIP,
				Phase: cachev1alpha1.PodPurgePending,
			})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
	if len(targets) > maxTargetPods {
		targets = targets[:maxTargetPods]
	}
	return targets
}

// startPurge records the target pods and the start time.
func startPurge(s *cachev1alpha1.PurgeStatus, pods []corev1.Pod, now time.Time) {
	s.StartTime = &metav1.Time{Time: now}
	s.Pods = targetsOf(pods)
}

// maxTargetPods is the most pods one Purge records (the CRD's bound).
const maxTargetPods = 1000

// markGone marks Pending target pods that are gone as Gone: their cache
// died with them.
func markGone(s *cachev1alpha1.PurgeStatus, live map[string]*corev1.Pod) {
	for i := range s.Pods {
		if p := &s.Pods[i]; p.Phase == cachev1alpha1.PodPurgePending && isGone(p, live) {
			p.Phase = cachev1alpha1.PodPurgeGone
		}
	}
}

// isGone reports whether a target pod no longer exists or now carries
// another IP (a new pod of the same name, with an empty cache).
func isGone(p *cachev1alpha1.PodPurgeStatus, live map[string]*corev1.Pod) bool {
	pod, ok := live[p.Name]
	return !ok || pod.Status.PodIP != p.IP
}

// recordFailedStarts charges one attempt, failed with err, to each named
// pod still Pending: a call that could not start is retried with backoff
// and counts toward the deadline like one that failed.
func recordFailedStarts(s *cachev1alpha1.PurgeStatus, pods []string, err error, at time.Time) {
	for _, name := range pods {
		if p := pendingPod(s, name); p != nil {
			recordCall(p, admin.InvalidationResult{}, err, at)
		}
	}
}

// recordEndedCalls folds the calls that ended into the pods' entries. A
// pod no longer Pending (gone, given up) keeps its phase.
func recordEndedCalls(s *cachev1alpha1.PurgeStatus, ended map[string]callResult) {
	for name, c := range ended {
		p := pendingPod(s, name)
		if p == nil {
			continue
		}
		err := c.err
		if err != nil {
			err = fmt.Errorf("calling %s: %w", c.endpoint, err)
		}
		recordCall(p, c.res, err, c.at)
	}
}

// pendingPod is the entry of the named target pod if it is Pending. The
// entries are sorted by name.
func pendingPod(s *cachev1alpha1.PurgeStatus, name string) *cachev1alpha1.PodPurgeStatus {
	i, ok := slices.BinarySearchFunc(s.Pods, name, func(p cachev1alpha1.PodPurgeStatus, name string) int {
		return strings.Compare(p.Name, name)
	})
	if !ok || s.Pods[i].Phase != cachev1alpha1.PodPurgePending {
		return nil
	}
	return &s.Pods[i]
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
		if classify(err).final {
			p.Phase = cachev1alpha1.PodPurgeFailed
			p.FailureReason = cachev1alpha1.PodFailureRefused
		}
		return
	}
	p.Phase = cachev1alpha1.PodPurgeSucceeded
	p.Matched, p.Invalidated, p.Refetched = res.Matched, res.Invalidated, res.Refetched
	p.LastError = purgestatus.Truncate(strings.Join(res.Errors, "; "))
}

// nextAttempt is when a Pending pod is due: at once if never called,
// else after an exponential backoff from its last attempt.
func nextAttempt(p *cachev1alpha1.PodPurgeStatus, b Backoff) time.Time {
	if p.Attempts == 0 || p.LastAttemptTime == nil {
		return time.Time{}
	}
	return p.LastAttemptTime.Add(b.Delay(p.Attempts))
}
