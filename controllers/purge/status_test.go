package purge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
			if wantReason := map[bool]cachev1alpha1.PodFailureReason{true: cachev1alpha1.PodFailureRefused}[tt.wantPhase == cachev1alpha1.PodPurgeFailed]; p.FailureReason != wantReason {
				t.Errorf("failureReason %q, want %q", p.FailureReason, wantReason)
			}
		})
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
	if s.Pods[0].FailureReason != cachev1alpha1.PodFailureDeadlineExceeded || s.Pods[1].FailureReason != "" {
		t.Errorf("failure reasons %q %q, want DeadlineExceeded and none", s.Pods[0].FailureReason, s.Pods[1].FailureReason)
	}
}

// TestUpdateStatus follows one Purge through the passes of its life, each
// computed from what the pass observed.
func TestUpdateStatus(t *testing.T) {
	purge := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1},
		Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, DeadlineSeconds: 60},
	}
	a, b, c := pod("edge-a", "10.0.0.1"), pod("edge-b", "10.0.0.2"), pod("edge-c", "10.0.0.3")
	fleet := []corev1.Pod{c, a, b}
	var s cachev1alpha1.PurgeStatus
	phases := func() string {
		var out []string
		for _, p := range s.Pods {
			out = append(out, p.Name+"="+string(p.Phase)+"/"+string(p.FailureReason))
		}
		return strings.Join(out, " ")
	}
	resolved := func() *metav1.Condition {
		return meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionTargetResolved)
	}

	// The CacheProxy does not exist yet: nothing starts.
	updateStatus(&s, purge, &pass{now: t0})
	if s.Started() || s.Phase != cachev1alpha1.PurgePending || resolved().Status != metav1.ConditionFalse {
		t.Fatalf("before the CacheProxy: phase %s, TargetResolved %+v", s.Phase, resolved())
	}

	// It appears: the targets are chosen, and the calls that could not
	// start count as attempts.
	updateStatus(&s, purge, &pass{now: t0.Add(time.Second), found: true, pods: fleet, live: byName(fleet),
		unstarted: []string{"edge-a", "edge-b", "edge-c"}, startErr: errors.New("reading admin token secret: not found")})
	if !s.StartTime.Time.Equal(t0.Add(time.Second)) || s.Phase != cachev1alpha1.PurgeRunning || resolved().Status != metav1.ConditionTrue {
		t.Fatalf("after the start: start %v, phase %s, TargetResolved %+v", s.StartTime, s.Phase, resolved())
	}
	if s.Pods[0].Attempts != 1 || !strings.Contains(s.Pods[0].LastError, "admin token") {
		t.Errorf("a call that could not start is a failed attempt: %+v", s.Pods[0])
	}

	// edge-a answers, edge-b is deleted, edge-c's call still runs.
	later := []corev1.Pod{a, c}
	updateStatus(&s, purge, &pass{now: t0.Add(5 * time.Second), found: true, pods: later, live: byName(later),
		ended:   map[string]callResult{"edge-a": {res: admin.InvalidationResult{Matched: 2, Invalidated: 2}, at: t0.Add(4 * time.Second)}},
		running: map[string]bool{"edge-c": true}})
	if got, want := phases(), "edge-a=Succeeded/ edge-b=Gone/ edge-c=Pending/"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	if s.Progress != "2/3" || s.ObjectsInvalidated != 2 || s.CompletionTime != nil {
		t.Errorf("progress %s, invalidated %d, completion %v", s.Progress, s.ObjectsInvalidated, s.CompletionTime)
	}

	// The deadline passes with edge-c's call unanswered: the Purge fails,
	// and says why from the pod's data.
	end := t0.Add(61 * time.Second)
	updateStatus(&s, purge, &pass{now: end, found: true, pods: later, live: byName(later), running: map[string]bool{"edge-c": true}})
	if got, want := phases(), "edge-a=Succeeded/ edge-b=Gone/ edge-c=Failed/DeadlineExceeded"; got != want {
		t.Errorf("phases %s, want %s", got, want)
	}
	failed := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionFailed)
	if s.Phase != cachev1alpha1.PurgeFailed || failed.Reason != cachev1alpha1.ReasonDeadlineExceeded || !s.CompletionTime.Time.Equal(end) {
		t.Errorf("phase %s, Failed %+v, completion %v", s.Phase, failed, s.CompletionTime)
	}
}
