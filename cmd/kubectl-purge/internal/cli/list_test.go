package cli

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestCreatedBy(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta metav1.ObjectMeta
		want string
	}{
		{"the purge gateway", metav1.ObjectMeta{
			Labels:      map[string]string{cachev1alpha1.LabelPurgeSource: "varnish"},
			Annotations: map[string]string{cachev1alpha1.AnnotationRequestedBy: "system:serviceaccount:web:cms"},
		}, "system:serviceaccount:web:cms via varnish"},
		{"the plugin", metav1.ObjectMeta{
			Labels:      map[string]string{LabelCreatedBy: CreatedByValue},
			Annotations: map[string]string{AnnotationRequestedBy: "alice"},
		}, "kubectl-purge (alice)"},
		{"nobody known", metav1.ObjectMeta{}, "-"},
	} {
		p := &cachev1alpha1.Purge{ObjectMeta: tc.meta}
		if got := createdBy(p); got != tc.want {
			t.Errorf("%s: createdBy = %q, want %q", tc.name, got, tc.want)
		}
	}
}
