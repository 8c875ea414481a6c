package purgestatus

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Summarize recomputes the totals, progress and phase from the pods'
// entries, stamps the completion time the first time the Purge ends, and
// sets the Complete and Failed conditions. It describes generation.
func Summarize(s *cachev1alpha1.PurgeStatus, generation int64, now time.Time) {
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
	if !s.Started() {
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
	if s.Finished() && s.CompletionTime == nil {
		s.CompletionTime = &metav1.Time{Time: now}
	}
	SetCompleteCondition(s, generation)
	SetFailedCondition(s, generation)
}

// MaxMessage bounds the messages this package writes and the pods'
// lastError (the CRD allows 1024 characters).
const MaxMessage = 1000

// Truncate cuts s to MaxMessage bytes, marking the cut with "...".
func Truncate(s string) string {
	if len(s) <= MaxMessage {
		return s
	}
	return s[:MaxMessage-3] + "..."
}
