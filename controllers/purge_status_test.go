package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func pod(name, ip string, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning}}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

func TestStartPurgeChoosesTargets(t *testing.T) {
	var s cachev1alpha1.PurgeStatus
	startPurge(&s, []corev1.Pod{
		pod("c", "10.0.0.3"),
		pod("a", "10.0.0.1", func(p *corev1.Pod) { p.Status.Conditions = nil }), // unready: still a target
		pod("no-ip", ""),
		pod("terminating", "10.0.0.4", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }),
		pod("dead", "10.0.0.5", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
	}, t0)
	var names []string
	for _, p := range s.Pods {
		names = append(names, p.Name+"="+p.IP+"/"+string(p.Phase))
	}
	if got, want := strings.Join(names, " "), "a=10.0.0.1/Pending c=10.0.0.3/Pending"; got != want {
		t.Errorf("targets = %s, want %s", got, want)
	}
	if !s.StartTime.Time.Equal(t0) {
		t.Errorf("start time = %v", s.StartTime)
	}
}

func TestMarkGone(t *testing.T) {
	s := cachev1alpha1.PurgeStatus{Pods: []cachev1alpha1.PodPurgeStatus{
		{Name: "kept", IP: "10.0.0.1", Phase: cachev1alpha1.PodPurgePending},
		{Name: "deleted", IP: "10.0.0.2", Phase: cachev1alpha1.PodPurgePending},
		{Name: "new-ip", IP: "10.0.0.3", Phase: cachev1alpha1.PodPurgePending},
		{Name: "done-then-deleted", IP: "10.0.0.4", Phase: cachev1alpha1.PodPurgeSucceeded},
	}}
	kept, moved := pod("kept", "10.0.0.1"), pod("new-ip", "10.0.0.9")
	markGone(&s, map[string]*corev1.Pod{"kept": &kept, "new-ip": &moved})
	want := []cachev1alpha1.PodPurgePhase{cachev1alpha1.PodPurgePending, cachev1alpha1.PodPurgeGone, cachev1alpha1.PodPurgeGone, cachev1alpha1.PodPurgeSucceeded}
	for i, p := range s.Pods {
		if p.Phase != want[i] {
			t.Errorf("%s: phase %s, want %s", p.Name, p.Phase, want[i])
		}
	}
}

func TestRecordCall(t *testing.T) {
	tests := []struct {
		name      string
		res       admin.InvalidationResult
		err       error
		wantPhase cachev1alpha1.PodPurgePhase
		wantErr   string
	}{
		{"success", admin.InvalidationResult{Matched: 3, Invalidated: 2, Refetched: 1}, nil, cachev1alpha1.PodPurgeSucceeded, ""},
		{"success with per-URL errors", admin.InvalidationResult{Errors: []string{"refetch a: 503", "refetch b: 503"}}, nil, cachev1alpha1.PodPurgeSucceeded, "refetch a: 503; refetch b: 503"},
		{"connection refused is retried", admin.InvalidationResult{}, errors.New("dial tcp: connection refused"), cachev1alpha1.PodPurgePending, "connection refused"},
		{"timeout is retried", admin.InvalidationResult{}, fmt.Errorf("call: %w", context.DeadlineExceeded), cachev1alpha1.PodPurgePending, "deadline exceeded"},
		{"5xx is retried", admin.InvalidationResult{}, &admin.StatusError{StatusCode: 503, Message: "draining"}, cachev1alpha1.PodPurgePending, "503"},
		{"401 is retried: pods may be rolling onto a new token", admin.InvalidationResult{}, &admin.StatusError{StatusCode: 401, Message: "bad token"}, cachev1alpha1.PodPurgePending, "401"},
		{"400 fails at once", admin.InvalidationResult{}, fmt.Errorf("calling: %w", &admin.StatusError{StatusCode: 400, Message: "host not served"}), cachev1alpha1.PodPurgeFailed, "host not served"},
		{"413 fails at once", admin.InvalidationResult{}, &admin.StatusError{StatusCode: 413, Message: "too large"}, cachev1alpha1.PodPurgeFailed, "413"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cachev1alpha1.PodPurgeStatus{Name: "p", Phase: cachev1alpha1.PodPurgePending, Attempts: 1}
			recordCall(&p, tt.res, tt.err, t0)
			if p.Phase != tt.wantPhase || p.Attempts != 2 || !p.LastAttemptTime.Time.Equal(t0) {
				t.Errorf("phase %s attempts %d at %v, want %s 2 %v", p.Phase, p.Attempts, p.LastAttemptTime, tt.wantPhase, t0)
			}
			if !strings.Contains(p.LastError, tt.wantErr) || (tt.wantErr == "" && p.LastError != "") {
				t.Errorf("lastError %q, want %q", p.LastError, tt.wantErr)
			}
			if tt.err == nil && (p.Matched != tt.res.Matched || p.Invalidated != tt.res.Invalidated || p.Refetched != tt.res.Refetched) {
				t.Errorf("counts %d/%d/%d, want %+v", p.Matched, p.Invalidated, p.Refetched, tt.res)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(int32(i + 1)); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{}).Delay(1); got != time.Second {
		t.Errorf("zero Backoff first delay = %v, want 1s", got)
	}
	if got := (Backoff{}).Delay(1000); got != 30*time.Second {
		t.Errorf("zero Backoff is capped at %v, want 30s", got)
	}
	p := cachev1alpha1.PodPurgeStatus{}
	if !nextAttempt(&p, b).IsZero() {
		t.Error("a pod never called is due at once")
	}
	p.Attempts, p.LastAttemptTime = 3, &metav1.Time{Time: t0}
	if got := nextAttempt(&p, b); !got.Equal(t0.Add(400 * time.Millisecond)) {
		t.Errorf("next attempt %v, want %v", got, t0.Add(400*time.Millisecond))
	}
}

func TestGiveUp(t *testing.T) {
	s := cachev1alpha1.PurgeStatus{Pods: []cachev1alpha1.PodPurgeStatus{
		{Name: "tried", Phase: cachev1alpha1.PodPurgePending, Attempts: 4, LastError: "connection refused"},
		{Name: "ok", Phase: cachev1alpha1.PodPurgeSucceeded},
		{Name: "hung", Phase: cachev1alpha1.PodPurgePending, Attempts: 1, LastError: "refused"},
	}}
	unanswered := map[string]bool{"hung": true}
	giveUp(&s, t0, t0.Add(-time.Millisecond), unanswered)
	if s.Pods[0].Phase != cachev1alpha1.PodPurgePending {
		t.Fatal("gave up before the deadline")
	}
	giveUp(&s, t0, t0, unanswered)
	if want := "deadline exceeded after 2 attempts; the last call got no answer in time"; s.Pods[2].LastError != want {
		t.Errorf("hung pod: lastError %q, want %q", s.Pods[2].LastError, want)
	}
	if s.Pods[0].Phase != cachev1alpha1.PodPurgeFailed || s.Pods[1].Phase != cachev1alpha1.PodPurgeSucceeded {
		t.Errorf("phases %s %s", s.Pods[0].Phase, s.Pods[1].Phase)
	}
	if want := "deadline exceeded after 4 attempts; last error: connection refused"; s.Pods[0].LastError != want {
		t.Errorf("lastError %q, want %q", s.Pods[0].LastError, want)
	}
}

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
			{Name: "a", Phase: cachev1alpha1.PodPurgeSucceeded}, {Name: "b", Phase: cachev1alpha1.PodPurgeFailed, LastError: "deadline exceeded after 5 attempts"},
		}},
		phase: cachev1alpha1.PurgeFailed, progress: "1/2", complete: metav1.ConditionFalse, failed: metav1.ConditionTrue,
		reason: cachev1alpha1.ReasonDeadlineExceeded, failedNaming: "1 of 2 target pods failed: b (deadline exceeded after 5 attempts)",
	}, {
		name: "failed by a refusal",
		status: cachev1alpha1.PurgeStatus{StartTime: started, Pods: []cachev1alpha1.PodPurgeStatus{
			{Name: "a", Phase: cachev1alpha1.PodPurgeFailed, LastError: "admin API answered 400"},
		}},
		phase: cachev1alpha1.PurgeFailed, progress: "0/1", complete: metav1.ConditionFalse, failed: metav1.ConditionTrue,
		reason: cachev1alpha1.ReasonPodsRefused, failedNaming: "a (admin API answered 400)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.status
			summarize(&s, 7, t0.Add(time.Second))
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
			if finished := isFinished(&s); finished != (s.CompletionTime != nil) {
				t.Errorf("finished=%v but completionTime=%v", finished, s.CompletionTime)
			}
		})
	}
}

func TestSummarizeKeepsCompletionTime(t *testing.T) {
	done := &metav1.Time{Time: t0}
	s := cachev1alpha1.PurgeStatus{StartTime: done, CompletionTime: done}
	summarize(&s, 1, t0.Add(time.Hour))
	if !s.CompletionTime.Time.Equal(t0) {
		t.Errorf("completion time moved to %v", s.CompletionTime)
	}
}

func TestFailedMessageIsBounded(t *testing.T) {
	s := cachev1alpha1.PurgeStatus{StartTime: &metav1.Time{Time: t0}}
	for i := range 50 {
		s.Pods = append(s.Pods, cachev1alpha1.PodPurgeStatus{Name: fmt.Sprintf("pod-%02d", i), Phase: cachev1alpha1.PodPurgeFailed, LastError: strings.Repeat("x", 200)})
	}
	summarize(&s, 1, t0)
	msg := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionFailed).Message
	if len(msg) > maxLastError || !strings.HasPrefix(msg, "50 of 50 target pods failed: pod-00") {
		t.Errorf("message of %d bytes: %.80s...", len(msg), msg)
	}
}

func TestSetAvailableCondition(t *testing.T) {
	tests := []struct {
		name   string
		conds  []appsv1.DeploymentCondition
		status metav1.ConditionStatus
		reason string
	}{
		{"no status yet", nil, metav1.ConditionUnknown, cachev1alpha1.ReasonDeploymentPending},
		{"available", []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}, metav1.ConditionTrue, cachev1alpha1.ReasonDeploymentAvailable},
		{"unavailable", []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Message: "min not met"}}, metav1.ConditionFalse, cachev1alpha1.ReasonDeploymentUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s cachev1alpha1.CacheProxyStatus
			setAvailableCondition(&s, 3, &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 1, Conditions: tt.conds}})
			c := meta.FindStatusCondition(s.Conditions, cachev1alpha1.CacheProxyConditionAvailable)
			if c.Status != tt.status || c.Reason != tt.reason || c.ObservedGeneration != 3 {
				t.Errorf("condition %+v, want %s/%s", c, tt.status, tt.reason)
			}
		})
	}
}

func TestInvalidationFor(t *testing.T) {
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{UID: "u-1", Generation: 2},
		Spec:       cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeSoft, URLs: []string{"https://x/a"}, Tags: []string{"t"}, Refetch: true, DryRun: true},
	}
	req := invalidationFor(p)
	if req.ID != "u-1/2" || req.Mode != admin.ModeSoft || !req.Refetch || !req.DryRun || req.URLs[0] != "https://x/a" || req.Tags[0] != "t" {
		t.Errorf("request %+v", req)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the request fails the proxy's validation: %v", err)
	}
}
