package cacheproxy

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// cacheProxyStatusFor computes the status of cp from its live Deployment.
func cacheProxyStatusFor(cp *cachev1alpha1.CacheProxy, deploy *appsv1.Deployment) cachev1alpha1.CacheProxyStatus {
	status := *cp.Status.DeepCopy()
	status.Replicas = deploy.Status.Replicas
	status.ReadyReplicas = deploy.Status.ReadyReplicas
	status.Selector = labels.SelectorFromSet(fleet.SelectorLabels(cp.Name)).String()
	status.ObservedGeneration = cp.Generation
	setAvailableCondition(&status, cp.Generation, deploy)
	return status
}

// setAvailableCondition mirrors the Deployment's Available condition: the
// fleet is available when enough pods are ready to serve.
func setAvailableCondition(status *cachev1alpha1.CacheProxyStatus, generation int64, deploy *appsv1.Deployment) {
	cond := metav1.Condition{
		Type:               cachev1alpha1.CacheProxyConditionAvailable,
		ObservedGeneration: generation,
		Status:             metav1.ConditionUnknown,
		Reason:             cachev1alpha1.ReasonDeploymentPending,
		Message:            "the Deployment has not reported its state yet",
	}
	ready := fmt.Sprintf("%d of %d pods ready", deploy.Status.ReadyReplicas, deploy.Status.Replicas)
	for _, c := range deploy.Status.Conditions {
		if c.Type != appsv1.DeploymentAvailable {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, cachev1alpha1.ReasonDeploymentAvailable, ready
		case corev1.ConditionFalse:
			cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, cachev1alpha1.ReasonDeploymentUnavailable, ready+": "+c.Message
		}
	}
	meta.SetStatusCondition(&status.Conditions, cond)
}
