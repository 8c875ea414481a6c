package purgestatus

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestSummarize(t *testing.T) {
	started := &metav1.Time{Time: t0}
	tests := []struct {
		name         string
		status       cachev1alpha1.PurgeStatus
		phase        cachev1alpha1.PurgePhase
		progress     string
		complete     metav1.ConditionStatus
		failed       metav1.ConditionStatus
		reason       string
		failedNaming string
	}{{
		name:   "not started",
		status: cachev1alpha1.PurgeStatus{},
		phase:  cachev1alpha1.PurgePending, complete: metav1.ConditionFalse, failed: metav1.ConditionFalse, reason: cachev1alpha1.ReasonInProgress,
	}, {
		name: "running",
		status: cachev1alpha1.PurgeStatus{StartTime: started, Pods: []cachev1alpha1.PodPurgeStatus{
			{Name: "a", Phase: cachev1alpha1.PodPurgeSucceeded, Invalidated: 2}, {Name: "b", Phase: cachev1alpha1.PodPurgePending},
		}},
		phase: cachev1alpha1.PurgeRunning, progress: "1/2", complete: metav1.ConditionFalse, failed: metav1.ConditionFalse, reason: cachev1alpha1.ReasonInProgress,
	}, {
		name: "complete with a gone pod",
		status: cachev1alpha1.PurgeStatus{StartTime: started, Pods: []cachev1alpha1.PodPurgeStatus{
			{Name: "a", Phase: cachev1alpha1.PodPurgeSucceeded, Invalidated: 2, Refetched: 1}, {Name: "b", Phase: cachev1alpha1.PodPurgeGone},
		}},
		phase: cachev1alpha1.PurgeComplete, progress: "2/2", complete: metav1.ConditionTrue, failed: metav1.ConditionFalse, reason: cachev1alpha1.ReasonAllPodsDone,
	}, {
		name:   "complete without targets",
		status: cachev1alpha1.PurgeStatus{StartTime: started},
		phase:  cachev1alpha1.PurgeComplete, progress: "0/0", complete: metav1.ConditionTrue, failed: metav1.ConditionFalse, reason: cachev1alpha1.ReasonNoTargetPods,
	}, {
		name: "failed by the deadline",
		status: cachev1alpha1.PurgeStatus{StartTime: started, Pods: []cachev1alpha1.PodPurgeStatus{
			{Name: "a", Phase: cachev1alpha1.PodPurgeSucceeded}, {Name: "b", Phase: cachev1alpha1.PodPurgeFailed, FailureReason: cachev1alpha1.PodFailureDeadlineExceeded, LastError: "deadline exceeded after 5 attempts"},
		}},
		phase: cachev1alpha1.PurgeFailed, progress: "1/2", complete: metav1.ConditionFalse, failed: metav1.ConditionTrue,
		reason: cachev1alpha1.ReasonDeadlineExceeded, failedNaming: "1 of 2 target pods failed: b (deadline exceeded after 5 attempts)",
	}, {
		name: "failed by a refusal",
		status: cachev1alpha1.PurgeStatus{StartTime: started, Pods: []cachev1alpha1.PodPurgeStatus{
			{Name: "a", Phase: cachev1alpha1.PodPurgeFailed, FailureReason: cachev1alpha1.PodFailureRefused, LastError: "admin API answered 400"},
		}},
		phase: cachev1alpha1.PurgeFailed, progress: "0/1", complete: metav1.ConditionFalse, failed: metav1.ConditionTrue,
		reason: cachev1alpha1.ReasonPodsRefused, failedNaming: "a (admin API answered 400)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.status
			Summarize(&s, 7, t0.Add(time.Second))
			if s.Phase != tt.phase || s.Progress != tt.progress || s.ObservedGeneration != 7 {
				t.Errorf("phase %s progress %q gen %d, want %s %q 7", s.Phase, s.Progress, s.ObservedGeneration, tt.phase, tt.progress)
			}
			complete := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionComplete)
			failed := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionFailed)
			if complete.Status != tt.complete || failed.Status != tt.failed {
				t.Errorf("Complete=%s Failed=%s, want %s %s", complete.Status, failed.Status, tt.complete, tt.failed)
			}
			reason := complete.Reason
			if tt.failed == metav1.ConditionTrue {
				reason = failed.Reason
			}
			if reason != tt.reason {
				t.Errorf("reason %s, want %s", reason, tt.reason)
			}
			if !strings.Contains(failed.Message, tt.failedNaming) {
				t.Errorf("Failed message %q lacks %q", failed.Message, tt.failedNaming)
			}
			if finished := s.Finished(); finished != (s.CompletionTime != nil) {
				t.Errorf("finished=%v but completionTime=%v", finished, s.CompletionTime)
			}
		})
	}
}

func TestSummarizeKeepsCompletionTime(t *testing.T) {
	done := &metav1.Time{Time: t0}
	s := cachev1alpha1.PurgeStatus{StartTime: done, CompletionTime: done}
	Summarize(&s, 1, t0.Add(time.Hour))
	if !s.CompletionTime.Time.Equal(t0) {
		t.Errorf("completion time moved to %v", s.CompletionTime)
	}
}

func TestFailedMessageIsBounded(t *testing.T) {
	s := cachev1alpha1.PurgeStatus{StartTime: &metav1.Time{Time: t0}}
	for i := range 50 {
		s.Pods = append(s.Pods, cachev1alpha1.PodPurgeStatus{Name: fmt.Sprintf("pod-%02d", i), Phase: cachev1alpha1.PodPurgeFailed, LastError: strings.Repeat("x", 200)})
	}
	Summarize(&s, 1, t0)
	msg := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionFailed).Message
	if len(msg) > MaxMessage || !strings.HasPrefix(msg, "50 of 50 target pods failed: pod-00") {
		t.Errorf("message of %d bytes: %.80s...", len(msg), msg)
	}
}
