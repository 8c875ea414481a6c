package purgetrigger

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/utils/ptr"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// kubectlVerdict asks kubectl's own rollout status viewer about obj:
// done, still waiting, or failed (an error).
func kubectlVerdict(t *testing.T, obj runtime.Object, kind string) (done bool, msg string, err error) {
	t.Helper()
	u, cerr := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if cerr != nil {
		t.Fatal(cerr)
	}
	viewer, verr := polymorphichelpers.StatusViewerFor(appsv1.SchemeGroupVersion.WithKind(kind).GroupKind())
	if verr != nil {
		t.Fatal(verr)
	}
	msg, done, err = viewer.Status(&unstructured.Unstructured{Object: u}, 0)
	return done, msg, err
}

// checkAgainstKubectl asserts our verdict is kubectl's: complete when it is
// done, in progress or paused (with its message) when it waits, and a
// failure reason when it errs.
func checkAgainstKubectl(t *testing.T, got rollout, done bool, msg string, err error) {
	t.Helper()
	switch {
	case err != nil:
		if got.complete || got.reason == cachev1alpha1.ReasonRolloutInProgress || got.reason == cachev1alpha1.ReasonRolloutComplete {
			t.Errorf("kubectl fails (%v); we say %+v", err, got)
		}
		if !strings.Contains(err.Error(), strings.TrimSuffix(got.message, "...")) {
			t.Errorf("kubectl's error %q; our message %q", err, got.message)
		}
	case done:
		if !got.complete {
			t.Errorf("kubectl says done (%q); we say %+v", msg, got)
		}
	default:
		if got.complete {
			t.Errorf("kubectl waits (%q); we say complete", msg)
		}
		if !strings.Contains(got.message, strings.TrimSpace(msg)) {
			t.Errorf("kubectl waits with %q; our message %q", msg, got.message)
		}
	}
}

func deployment(mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 4, Annotations: map[string]string{deploymentRevisionAnnotation: "3"}},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(int32(3))},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: "True", Reason: "NewReplicaSetAvailable"}}},
	}
	mutate(d)
	return d
}

func TestDeploymentRolloutAgreesWithKubectl(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		reason string
	}{
		{"complete", func(*appsv1.Deployment) {}, cachev1alpha1.ReasonRolloutComplete},
		{"spec change not observed", func(d *appsv1.Deployment) { d.Generation = 5 }, cachev1alpha1.ReasonRolloutInProgress},
		{"replicas not updated", func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }, cachev1alpha1.ReasonRolloutInProgress},
		{"old replicas terminating", func(d *appsv1.Deployment) { d.Status.Replicas = 4 }, cachev1alpha1.ReasonRolloutInProgress},
		{"updated replica not available (readiness failing)", func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }, cachev1alpha1.ReasonRolloutInProgress},
		{"progress deadline exceeded", func(d *appsv1.Deployment) {
			d.Status.UpdatedReplicas = 1
			d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: "False", Reason: "ProgressDeadlineExceeded"}
		}, cachev1alpha1.ReasonProgressDeadlineExceeded},
		{"paused mid-rollout", func(d *appsv1.Deployment) { d.Spec.Paused = true; d.Status.UpdatedReplicas = 1 }, cachev1alpha1.ReasonRolloutPaused},
		{"paused after completing", func(d *appsv1.Deployment) { d.Spec.Paused = true }, cachev1alpha1.ReasonRolloutComplete},
		{"scaled to zero", func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr.To(int32(0))
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 4}
		}, cachev1alpha1.ReasonRolloutComplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment(tt.mutate)
			got := deploymentRollout(d)
			done, msg, err := kubectlVerdict(t, d, "Deployment")
			checkAgainstKubectl(t, got, done, msg, err)
			if got.reason != tt.reason {
				t.Errorf("reason %q, want %q (message %q)", got.reason, tt.reason, got.message)
			}
			if got.revision != 3 {
				t.Errorf("revision %d, want 3", got.revision)
			}
		})
	}
}

func TestDeploymentRolloutWithoutRevisionIsNotComplete(t *testing.T) {
	d := deployment(func(d *appsv1.Deployment) { d.Annotations = nil })
	if got := deploymentRollout(d); got.complete || got.reason != cachev1alpha1.ReasonRolloutInProgress {
		t.Errorf("a Deployment without a revision: %+v, want in progress", got)
	}
}

func statefulSet(mutate func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(3)), UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))},
		}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentReplicas: 3,
			CurrentRevision: "db-7c9f", UpdateRevision: "db-7c9f"},
	}
	mutate(s)
	return s
}

func TestStatefulSetRolloutAgreesWithKubectl(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		reason string
	}{
		{"complete", func(*appsv1.StatefulSet) {}, cachev1alpha1.ReasonRolloutComplete},
		{"not observed", func(s *appsv1.StatefulSet) { s.Generation = 3 }, cachev1alpha1.ReasonRolloutInProgress},
		{"never observed", func(s *appsv1.StatefulSet) { s.Status.ObservedGeneration = 0 }, cachev1alpha1.ReasonRolloutInProgress},
		{"pod not ready", func(s *appsv1.StatefulSet) { s.Status.ReadyReplicas = 2 }, cachev1alpha1.ReasonRolloutInProgress},
		{"pods not updated", func(s *appsv1.StatefulSet) { s.Status.UpdatedReplicas = 1 }, cachev1alpha1.ReasonRolloutInProgress},
		{"partition reached", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(int32(2))
			s.Status.UpdatedReplicas = 1
		}, cachev1alpha1.ReasonRolloutComplete},
		{"no rollingUpdate block, revisions differ", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = nil
			s.Status.UpdateRevision = "db-8d0a"
		}, cachev1alpha1.ReasonRolloutInProgress},
		{"no rollingUpdate block, revisions equal", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate = nil }, cachev1alpha1.ReasonRolloutComplete},
		{"OnDelete", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}, cachev1alpha1.ReasonRolloutStatusUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statefulSet(tt.mutate)
			got := statefulSetRollout(s, 7)
			done, msg, err := kubectlVerdict(t, s, "StatefulSet")
			checkAgainstKubectl(t, got, done, msg, err)
			if got.reason != tt.reason {
				t.Errorf("reason %q, want %q (message %q)", got.reason, tt.reason, got.message)
			}
		})
	}
	if got := statefulSetRollout(statefulSet(func(*appsv1.StatefulSet) {}), 0); got.complete {
		t.Errorf("a StatefulSet whose revision number is unknown: %+v, want not complete", got)
	}
}

func TestArgoRollout(t *testing.T) {
	rollout := func(generation int64, observed, phase, revision string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
			"metadata": map[string]any{"name": "web", "generation": generation},
			"status":   map[string]any{"observedGeneration": observed, "phase": phase, "message": "step 2 of 4"},
		}}
		if revision != "" {
			u.SetAnnotations(map[string]string{argoRolloutRevisionAnnotation: revision})
		}
		return u
	}
	tests := []struct {
		name     string
		u        *unstructured.Unstructured
		complete bool
		reason   string
	}{
		{"healthy", rollout(3, "3", "Healthy", "5"), true, cachev1alpha1.ReasonRolloutComplete},
		{"healthy but generation not observed", rollout(4, "3", "Healthy", "5"), false, cachev1alpha1.ReasonRolloutInProgress},
		{"progressing", rollout(3, "3", "Progressing", "5"), false, cachev1alpha1.ReasonRolloutInProgress},
		{"paused at a canary step", rollout(3, "3", "Paused", "5"), false, cachev1alpha1.ReasonRolloutPaused},
		{"degraded", rollout(3, "3", "Degraded", "5"), false, cachev1alpha1.ReasonProgressDeadlineExceeded},
		{"healthy without a revision", rollout(3, "3", "Healthy", ""), false, cachev1alpha1.ReasonRolloutInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := argoRollout(tt.u)
			if got.complete != tt.complete || got.reason != tt.reason {
				t.Errorf("got %+v, want complete=%v reason %q", got, tt.complete, tt.reason)
			}
		})
	}
}
