package purgetrigger

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// workload is what one pass saw of the trigger's workload.
type workload struct {
	// found reports whether it exists; rollout says why not otherwise.
	found   bool
	uid     types.UID
	rollout rollout
}

// observe records the workload's current revision in status and reports
// whether that revision is due for a Purge: rolled out and not purged yet.
//
// The revision already rolled out when the trigger first looks (its first
// pass, status never written) is not purged: nothing changed while the
// trigger watched, and purging a cache because a trigger was merely added
// would surprise. A revision caught mid-rollout on that first look is
// purged when it completes, and so is the first rollout of a workload that
// appears later, or is deleted and created again (a new UID), since the
// trigger was there to see it.
func observe(s *cachev1alpha1.PurgeTriggerStatus, w *workload) (due bool) {
	if !w.found {
		return false
	}
	rev := revisionString(w.rollout.revision)
	if s.WorkloadUID != string(w.uid) {
		firstLook := s.ObservedGeneration == 0 && s.WorkloadUID == ""
		s.WorkloadUID = string(w.uid)
		s.PurgedRevision = ""
		if firstLook && w.rollout.complete {
			s.PurgedRevision = rev
		}
	}
	s.ObservedRevision = rev
	return w.rollout.complete && s.PurgedRevision != rev
}

// revisionString is a revision as status shows it; "" for none yet.
func revisionString(rev int64) string {
	if rev <= 0 {
		return ""
	}
	return strconv.FormatInt(rev, 10)
}

// recordPurge puts the Purge of revision at the head of the history (once,
// however often it is recorded) and keeps the newest limit entries.
func recordPurge(s *cachev1alpha1.PurgeTriggerStatus, p *cachev1alpha1.Purge, revision string, limit int32) {
	s.PurgedRevision = revision
	created := p.CreationTimestamp
	s.LastPurgeTime = &created
	for _, e := range s.RecentPurges {
		if e.Name == p.Name {
			return
		}
	}
	entry := cachev1alpha1.TriggeredPurge{Name: p.Name, Revision: revision, CreationTime: created}
	fillResult(&entry, p)
	s.RecentPurges = append([]cachev1alpha1.TriggeredPurge{entry}, s.RecentPurges...)
	trimHistory(s, limit)
}

// trimHistory keeps the newest limit entries (5 if limit is unset).
func trimHistory(s *cachev1alpha1.PurgeTriggerStatus, limit int32) {
	if limit <= 0 {
		limit = 5
	}
	if len(s.RecentPurges) > int(limit) {
		s.RecentPurges = s.RecentPurges[:limit]
	}
}

// refreshHistory copies each listed Purge's result into its history
// entry. A Purge no longer listed (deleted after its TTL, say) keeps the
// last result recorded.
func refreshHistory(s *cachev1alpha1.PurgeTriggerStatus, purges []cachev1alpha1.Purge) {
	byName := make(map[string]*cachev1alpha1.Purge, len(purges))
	for i := range purges {
		byName[purges[i].Name] = &purges[i]
	}
	for i := range s.RecentPurges {
		if p, ok := byName[s.RecentPurges[i].Name]; ok {
			fillResult(&s.RecentPurges[i], p)
		}
	}
}

func fillResult(e *cachev1alpha1.TriggeredPurge, p *cachev1alpha1.Purge) {
	e.Phase = p.Status.Phase
	e.Progress = p.Status.Progress
	e.ObjectsInvalidated = p.Status.ObjectsInvalidated
	e.CompletionTime = p.Status.CompletionTime
}

// setRolloutCompleteCondition says whether the workload's current revision
// finished rolling out, and if not, why.
func setRolloutCompleteCondition(s *cachev1alpha1.PurgeTriggerStatus, generation int64, r rollout) {
	status := metav1.ConditionFalse
	if r.complete {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{
		Type:               cachev1alpha1.PurgeTriggerConditionRolloutComplete,
		Status:             status,
		Reason:             r.reason,
		Message:            r.message,
		ObservedGeneration: generation,
	})
}

// setPurgedCondition says whether the workload's current revision has been
// purged: its Purge completed, or it predates the trigger.
func setPurgedCondition(s *cachev1alpha1.PurgeTriggerStatus, generation int64) {
	c := metav1.Condition{
		Type:               cachev1alpha1.PurgeTriggerConditionPurged,
		Status:             metav1.ConditionFalse,
		ObservedGeneration: generation,
	}
	entry := currentEntry(s)
	switch {
	case s.ObservedRevision == "" || s.PurgedRevision != s.ObservedRevision:
		c.Reason = cachev1alpha1.ReasonWaitingForRollout
		c.Message = "The workload's current revision has not finished rolling out"
		if s.ObservedRevision != "" {
			c.Message = fmt.Sprintf("Revision %s has not finished rolling out", s.ObservedRevision)
		}
	case entry == nil:
		c.Status = metav1.ConditionTrue
		c.Reason = cachev1alpha1.ReasonRevisionPredatesTrigger
		c.Message = fmt.Sprintf("Revision %s was rolled out before the trigger saw the workload; it is not purged", s.PurgedRevision)
	case entry.Phase == cachev1alpha1.PurgeComplete:
		c.Status = metav1.ConditionTrue
		c.Reason = cachev1alpha1.ReasonPurgeComplete
		c.Message = fmt.Sprintf("Purge %s of revision %s completed: %s pods, %d objects invalidated", entry.Name, entry.Revision, entry.Progress, entry.ObjectsInvalidated)
	case entry.Phase == cachev1alpha1.PurgeFailed:
		c.Reason = cachev1alpha1.ReasonPurgeFailed
		c.Message = fmt.Sprintf("Purge %s of revision %s failed: see kubectl describe purge %s", entry.Name, entry.Revision, entry.Name)
	default:
		c.Reason = cachev1alpha1.ReasonPurgeRunning
		c.Message = fmt.Sprintf("Purge %s of revision %s is under way", entry.Name, entry.Revision)
	}
	meta.SetStatusCondition(&s.Conditions, c)
}

// currentEntry is the history entry of the last purged revision, if the
// trigger created a Purge for it.
func currentEntry(s *cachev1alpha1.PurgeTriggerStatus) *cachev1alpha1.TriggeredPurge {
	for i := range s.RecentPurges {
		if s.RecentPurges[i].Revision == s.PurgedRevision {
			return &s.RecentPurges[i]
		}
	}
	return nil
}
