package purgetrigger

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get
// +kubebuilder:rbac:groups=argoproj.io,resources=rollouts,verbs=get;list;watch

// workloadGVKs are the kinds a trigger can follow.
var workloadGVKs = map[cachev1alpha1.WorkloadKind]schema.GroupVersionKind{
	cachev1alpha1.WorkloadDeployment:  appsv1.SchemeGroupVersion.WithKind("Deployment"),
	cachev1alpha1.WorkloadStatefulSet: appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
	cachev1alpha1.WorkloadRollout:     {Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"},
}

// workloadCRDs names the CRDs that bring workload kinds: a trigger on such
// a kind waits for its CRD, installed before the operator or after.
var workloadCRDs = map[string]cachev1alpha1.WorkloadKind{
	"rollouts.argoproj.io": cachev1alpha1.WorkloadRollout,
}

// crdGone reports whether kind comes from a CRD that is gone or being
// deleted. The REST mapper still knows a kind for a while after its CRD
// is deleted, and the API server answers a read of it with 404, as for a
// missing object: the CRD tells the two apart.
func crdGone(ctx context.Context, c client.Reader, kind cachev1alpha1.WorkloadKind) (bool, error) {
	for name, k := range workloadCRDs {
		if k != kind {
			continue
		}
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		err := c.Get(ctx, client.ObjectKey{Name: name}, crd)
		switch {
		case apierrors.IsNotFound(err):
			return true, nil
		case err != nil:
			return false, fmt.Errorf("reading CustomResourceDefinition %s: %w", name, err)
		}
		return crd.DeletionTimestamp != nil, nil
	}
	return false, nil
}

// readWorkload reads, from the API server, the workload a trigger follows
// and where its rollout stands. A missing workload, or a kind the cluster
// does not serve, is not an error: the trigger says so in a condition.
func readWorkload(ctx context.Context, c client.Reader, t *cachev1alpha1.PurgeTrigger) (*workload, error) {
	ref := t.Spec.WorkloadRef
	key := client.ObjectKey{Namespace: t.Namespace, Name: ref.Name}
	var obj client.Object
	switch ref.Kind {
	case cachev1alpha1.WorkloadDeployment:
		obj = &appsv1.Deployment{}
	case cachev1alpha1.WorkloadStatefulSet:
		obj = &appsv1.StatefulSet{}
	case cachev1alpha1.WorkloadRollout:
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(workloadGVKs[ref.Kind])
		obj = u
	default:
		return nil, fmt.Errorf("workload kind %q of purgetrigger %s/%s is not supported", ref.Kind, t.Namespace, t.Name)
	}
	notInstalled := &workload{rollout: rollout{reason: cachev1alpha1.ReasonWorkloadKindNotInstalled,
		message: fmt.Sprintf("The cluster serves no %s kind: the trigger follows it once its CRD is installed", workloadGVKs[ref.Kind].GroupKind())}}
	err := c.Get(ctx, key, obj)
	switch {
	case meta.IsNoMatchError(err):
		return notInstalled, nil
	case apierrors.IsNotFound(err):
		gone, err := crdGone(ctx, c, ref.Kind)
		if err != nil {
			return nil, err
		}
		if gone {
			return notInstalled, nil
		}
		return &workload{rollout: rollout{reason: cachev1alpha1.ReasonWorkloadNotFound,
			message: fmt.Sprintf("%s %q not found in namespace %q", ref.Kind, ref.Name, t.Namespace)}}, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s: %w", ref.Kind, key, err)
	}
	w := &workload{found: true, uid: obj.GetUID()}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		w.rollout = deploymentRollout(o)
	case *appsv1.StatefulSet:
		rev, err := controllerRevisionNumber(ctx, c, o)
		if err != nil {
			return nil, err
		}
		w.rollout = statefulSetRollout(o, rev)
	case *unstructured.Unstructured:
		w.rollout = argoRollout(o)
	}
	return w, nil
}

// controllerRevisionNumber is the number of the StatefulSet's update
// revision, 0 if it has none yet. The StatefulSet controller renumbers an
// old ControllerRevision when a rollback returns to it, so a rollback gets
// a new number as a Deployment's does.
func controllerRevisionNumber(ctx context.Context, c client.Reader, s *appsv1.StatefulSet) (int64, error) {
	if s.Status.UpdateRevision == "" {
		return 0, nil
	}
	var cr appsv1.ControllerRevision
	err := c.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Status.UpdateRevision}, &cr)
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("reading ControllerRevision %s/%s of statefulset %s: %w", s.Namespace, s.Status.UpdateRevision, s.Name, err)
	}
	return cr.Revision, nil
}
