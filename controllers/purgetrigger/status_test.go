package purgetrigger

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestObserve(t *testing.T) {
	done := func(rev int64) rollout {
		return rollout{revision: rev, complete: true, reason: cachev1alpha1.ReasonRolloutComplete}
	}
	going := func(rev int64) rollout { return rollout{revision: rev, reason: cachev1alpha1.ReasonRolloutInProgress} }
	// looked is the status of a trigger that has written status before.
	looked := func(uid, purged string) cachev1alpha1.PurgeTriggerStatus {
		return cachev1alpha1.PurgeTriggerStatus{ObservedGeneration: 1, WorkloadUID: uid, PurgedRevision: purged}
	}
	tests := []struct {
		name       string
		status     cachev1alpha1.PurgeTriggerStatus
		w          workload
		due        bool
		wantPurged string
	}{
		{"workload missing", cachev1alpha1.PurgeTriggerStatus{}, workload{rollout: rollout{reason: cachev1alpha1.ReasonWorkloadNotFound}}, false, ""},
		{"first look, rolled out: baseline, no purge", cachev1alpha1.PurgeTriggerStatus{}, workload{found: true, uid: "a", rollout: done(3)}, false, "3"},
		{"first look, mid-rollout: purge when it completes", cachev1alpha1.PurgeTriggerStatus{}, workload{found: true, uid: "a", rollout: going(4)}, false, ""},
		{"that rollout completes", looked("a", ""), workload{found: true, uid: "a", rollout: done(4)}, true, ""},
		{"workload appeared after the first look", looked("", ""), workload{found: true, uid: "a", rollout: done(1)}, true, ""},
		{"new revision complete", looked("a", "3"), workload{found: true, uid: "a", rollout: done(4)}, true, "3"},
		{"purged revision, seen again", looked("a", "4"), workload{found: true, uid: "a", rollout: done(4)}, false, "4"},
		{"recreated workload, revisions restart", looked("a", "4"), workload{found: true, uid: "b", rollout: done(1)}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.status
			if due := observe(&s, &tt.w); due != tt.due {
				t.Errorf("due = %v, want %v", due, tt.due)
			}
			if s.PurgedRevision != tt.wantPurged {
				t.Errorf("purgedRevision %q, want %q", s.PurgedRevision, tt.wantPurged)
			}
		})
	}
}

func purgeNamed(name string, phase cachev1alpha1.PurgePhase) *cachev1alpha1.Purge {
	p := &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()}}
	p.Status.Phase = phase
	return p
}

func TestHistory(t *testing.T) {
	var s cachev1alpha1.PurgeTriggerStatus
	for rev := 1; rev <= 4; rev++ {
		recordPurge(&s, purgeNamed(fmt.Sprintf("web-%d", rev), ""), fmt.Sprint(rev), 3)
	}
	recordPurge(&s, purgeNamed("web-4", ""), "4", 3) // recorded again after a lost status write
	names := []string{}
	for _, e := range s.RecentPurges {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "web-4,web-3,web-2" {
		t.Errorf("history %s, want the newest three, newest first, once each", got)
	}
	refreshHistory(&s, []cachev1alpha1.Purge{*purgeNamed("web-3", cachev1alpha1.PurgeFailed)})
	if s.RecentPurges[1].Phase != cachev1alpha1.PurgeFailed || s.RecentPurges[0].Phase != "" {
		t.Errorf("refresh: %+v", s.RecentPurges)
	}
}

func TestPurgedCondition(t *testing.T) {
	entry := cachev1alpha1.TriggeredPurge{Name: "web-4-abcde", Revision: "4"}
	tests := []struct {
		name   string
		s      cachev1alpha1.PurgeTriggerStatus
		phase  cachev1alpha1.PurgePhase
		status metav1.ConditionStatus
		reason string
	}{
		{"rolling out", cachev1alpha1.PurgeTriggerStatus{ObservedRevision: "5", PurgedRevision: "4"}, "", metav1.ConditionFalse, cachev1alpha1.ReasonWaitingForRollout},
		{"baseline", cachev1alpha1.PurgeTriggerStatus{ObservedRevision: "3", PurgedRevision: "3"}, "", metav1.ConditionTrue, cachev1alpha1.ReasonRevisionPredatesTrigger},
		{"running", cachev1alpha1.PurgeTriggerStatus{ObservedRevision: "4", PurgedRevision: "4"}, cachev1alpha1.PurgeRunning, metav1.ConditionFalse, cachev1alpha1.ReasonPurgeRunning},
		{"complete", cachev1alpha1.PurgeTriggerStatus{ObservedRevision: "4", PurgedRevision: "4"}, cachev1alpha1.PurgeComplete, metav1.ConditionTrue, cachev1alpha1.ReasonPurgeComplete},
		{"failed", cachev1alpha1.PurgeTriggerStatus{ObservedRevision: "4", PurgedRevision: "4"}, cachev1alpha1.PurgeFailed, metav1.ConditionFalse, cachev1alpha1.ReasonPurgeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			if tt.phase != "" {
				e := entry
				e.Phase = tt.phase
				s.RecentPurges = []cachev1alpha1.TriggeredPurge{e}
			}
			setPurgedCondition(&s, 1)
			c := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeTriggerConditionPurged)
			if c.Status != tt.status || c.Reason != tt.reason {
				t.Errorf("got %s/%s (%s), want %s/%s", c.Status, c.Reason, c.Message, tt.status, tt.reason)
			}
		})
	}
}

func TestPurgeName(t *testing.T) {
	long := strings.Repeat("t", 63)
	a, b := purgeName(long, 12345, "uid-1"), purgeName(long, 12345, "uid-1")
	if a != b {
		t.Errorf("not deterministic: %q, %q", a, b)
	}
	if errs := validation.IsDNS1123Subdomain(a); len(errs) > 0 {
		t.Errorf("%q is not a valid name: %v", a, errs)
	}
	if purgeName("web", 2, "uid-1") == purgeName("web", 2, "uid-2") {
		t.Error("a recreated workload's revision names the same Purge as its predecessor's")
	}
	if !strings.HasPrefix(purgeName("web", 2, "uid-1"), "web-2-") {
		t.Errorf("name %q does not start with the trigger and revision", purgeName("web", 2, "uid-1"))
	}
}
