package purgetrigger

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Annotations the workload controllers keep their revision numbers in.
const (
	deploymentRevisionAnnotation  = "deployment.kubernetes.io/revision"
	argoRolloutRevisionAnnotation = "rollout.argoproj.io/revision"
)

// rollout is where a workload's current revision stands.
type rollout struct {
	// revision is the current (newest) revision; 0 when the workload's
	// controller has not recorded one yet.
	revision int64
	// complete reports whether that revision finished rolling out.
	complete bool
	// reason is one of the RolloutComplete condition's reasons.
	reason string
	// message says, for people, what the rollout waits for.
	message string
}

func inProgress(format string, args ...any) rollout {
	return rollout{reason: cachev1alpha1.ReasonRolloutInProgress, message: fmt.Sprintf(format, args...)}
}

// deploymentRollout decides as kubectl's DeploymentStatusViewer does
// (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go): the spec
// change observed, the progress deadline not exceeded, every replica
// updated, no old replica left, every updated replica available. A paused
// Deployment that has not completed is reported as paused rather than in
// progress; kubectl just keeps waiting on it.
func deploymentRollout(d *appsv1.Deployment) rollout {
	r := deploymentRolloutStatus(d)
	r.revision, _ = strconv.ParseInt(d.Annotations[deploymentRevisionAnnotation], 10, 64)
	switch {
	case r.complete && r.revision <= 0:
		return inProgress("Waiting for the Deployment controller to record the revision of deployment %q", d.Name)
	case d.Spec.Paused && r.reason == cachev1alpha1.ReasonRolloutInProgress:
		r.reason = cachev1alpha1.ReasonRolloutPaused
		r.message = fmt.Sprintf("deployment %q is paused: %s", d.Name, r.message)
	}
	return r
}

func deploymentRolloutStatus(d *appsv1.Deployment) rollout {
	if d.Generation > d.Status.ObservedGeneration {
		return inProgress("Waiting for deployment spec update to be observed...")
	}
	for _, c := range d.Status.Conditions {
		// TimedOutReason of k8s.io/kubectl/pkg/util/deployment.
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return rollout{reason: cachev1alpha1.ReasonProgressDeadlineExceeded,
				message: fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)}
		}
	}
	s := d.Status
	switch {
	case d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas:
		return inProgress("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...",
			d.Name, s.UpdatedReplicas, *d.Spec.Replicas)
	case s.Replicas > s.UpdatedReplicas:
		return inProgress("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...",
			d.Name, s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		return inProgress("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...",
			d.Name, s.AvailableReplicas, s.UpdatedReplicas)
	}
	return rollout{complete: true, reason: cachev1alpha1.ReasonRolloutComplete,
		message: fmt.Sprintf("deployment %q successfully rolled out", d.Name)}
}

// statefulSetRollout decides as kubectl's StatefulSetStatusViewer does:
// only the RollingUpdate strategy can be followed; the spec change
// observed, every replica ready, and every replica above the partition
// updated (or, without a rollingUpdate block, the update revision
// current). revision is the number of the ControllerRevision named by
// status.updateRevision, 0 if unknown.
func statefulSetRollout(s *appsv1.StatefulSet, revision int64) rollout {
	r := statefulSetRolloutStatus(s)
	r.revision = revision
	if r.complete && revision <= 0 {
		return inProgress("Waiting for the StatefulSet controller to record the revision of statefulset %q", s.Name)
	}
	return r
}

func statefulSetRolloutStatus(s *appsv1.StatefulSet) rollout {
	if s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return rollout{reason: cachev1alpha1.ReasonRolloutStatusUnavailable,
			message: fmt.Sprintf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)}
	}
	st := s.Status
	if st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration {
		return inProgress("Waiting for statefulset spec update to be observed...")
	}
	if s.Spec.Replicas != nil && st.ReadyReplicas < *s.Spec.Replicas {
		return inProgress("Waiting for %d pods to be ready...", *s.Spec.Replicas-st.ReadyReplicas)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if s.Spec.Replicas != nil && ru.Partition != nil && st.UpdatedReplicas < *s.Spec.Replicas-*ru.Partition {
			return inProgress("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...",
				st.UpdatedReplicas, *s.Spec.Replicas-*ru.Partition)
		}
		return rollout{complete: true, reason: cachev1alpha1.ReasonRolloutComplete,
			message: fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", st.UpdatedReplicas)}
	}
	if st.UpdateRevision != st.CurrentRevision {
		return inProgress("waiting for statefulset rolling update to complete %d pods at revision %s...", st.UpdatedReplicas, st.UpdateRevision)
	}
	return rollout{complete: true, reason: cachev1alpha1.ReasonRolloutComplete,
		message: fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", st.CurrentReplicas, st.CurrentRevision)}
}

// argoRollout reads the verdict the Argo Rollouts controller writes into
// its Rollout's status (phase Healthy, Progressing, Paused or Degraded,
// the same function `kubectl argo rollouts status` uses), once it has
// observed the Rollout's generation. Argo is read as unstructured data so
// the operator does not depend on its Go module.
func argoRollout(u *unstructured.Unstructured) rollout {
	name := u.GetName()
	rev, _ := strconv.ParseInt(u.GetAnnotations()[argoRolloutRevisionAnnotation], 10, 64)
	observed, _, _ := unstructured.NestedString(u.Object, "status", "observedGeneration")
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	message, _, _ := unstructured.NestedString(u.Object, "status", "message")
	var r rollout
	switch {
	case observed != strconv.FormatInt(u.GetGeneration(), 10):
		r = inProgress("Waiting for rollout %q spec update to be observed...", name)
	case phase == "Healthy" && rev > 0:
		r = rollout{complete: true, reason: cachev1alpha1.ReasonRolloutComplete,
			message: fmt.Sprintf("rollout %q is Healthy", name)}
	case phase == "Paused":
		r = rollout{reason: cachev1alpha1.ReasonRolloutPaused, message: fmt.Sprintf("rollout %q is Paused: %s", name, message)}
	case phase == "Degraded":
		r = rollout{reason: cachev1alpha1.ReasonProgressDeadlineExceeded, message: fmt.Sprintf("rollout %q is Degraded: %s", name, message)}
	default:
		r = inProgress("Waiting for rollout %q to become Healthy (phase %q): %s", name, phase, message)
	}
	r.revision = rev
	return r
}
