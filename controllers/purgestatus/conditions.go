package purgestatus

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// One setter per condition type; each sets its condition from the status
// alone, whatever it was before.

// condition is the condition of type t describing generation.
func condition(t string, generation int64, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, ObservedGeneration: generation, Reason: reason, Message: message}
}

// SetTargetResolvedCondition says whether the CacheProxy was found.
func SetTargetResolvedCondition(s *cachev1alpha1.PurgeStatus, generation int64, cacheProxy string, found bool) {
	c := condition(cachev1alpha1.PurgeConditionTargetResolved, generation, metav1.ConditionTrue,
		cachev1alpha1.ReasonTargetsChosen, fmt.Sprintf("CacheProxy %s found; %d target pods recorded", cacheProxy, len(s.Pods)))
	if !found {
		c.Status = metav1.ConditionFalse
		c.Reason = cachev1alpha1.ReasonCacheProxyNotFound
		c.Message = fmt.Sprintf("CacheProxy %s does not exist in this namespace; the Purge starts when it does", cacheProxy)
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// SetCompleteCondition is True once every target pod succeeded or is gone.
func SetCompleteCondition(s *cachev1alpha1.PurgeStatus, generation int64) {
	c := condition(cachev1alpha1.PurgeConditionComplete, generation, metav1.ConditionFalse,
		cachev1alpha1.ReasonInProgress, fmt.Sprintf("%s target pods done", s.Progress))
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
		c.Reason, c.Message = FailedReason(s), "some target pods failed; see the Failed condition"
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// SetFailedCondition is True, naming the pods, once some pod was given up.
func SetFailedCondition(s *cachev1alpha1.PurgeStatus, generation int64) {
	c := condition(cachev1alpha1.PurgeConditionFailed, generation, metav1.ConditionFalse,
		cachev1alpha1.ReasonInProgress, "no target pod failed")
	switch s.Phase {
	case cachev1alpha1.PurgeComplete:
		c.Reason = cachev1alpha1.ReasonAllPodsDone
	case cachev1alpha1.PurgeFailed:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, FailedReason(s), FailedMessage(s)
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// FailedReason is the reason of a Failed Purge's conditions and event:
// DeadlineExceeded when some pod was given up at the deadline, else
// PodsRefused.
func FailedReason(s *cachev1alpha1.PurgeStatus) string {
	for _, p := range s.Pods {
		if p.Phase == cachev1alpha1.PodPurgeFailed && p.FailureReason == cachev1alpha1.PodFailureDeadlineExceeded {
			return cachev1alpha1.ReasonDeadlineExceeded
		}
	}
	return cachev1alpha1.ReasonPodsRefused
}

// FailedMessage names the failed pods and why, for kubectl describe.
func FailedMessage(s *cachev1alpha1.PurgeStatus) string {
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
	return Truncate(fmt.Sprintf("%d of %d target pods failed: %s", s.FailedPods, s.TargetPods, strings.Join(parts, "; ")))
}
