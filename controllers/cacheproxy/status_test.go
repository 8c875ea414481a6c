package cacheproxy

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

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
