package fleet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestObjectLabelsCarrySelectorAndManagedBy(t *testing.T) {
	got := ObjectLabels("edge")
	want := map[string]string{
		"app.kubernetes.io/name":       "cacheproxy",
		"app.kubernetes.io/instance":   "edge",
		"app.kubernetes.io/managed-by": "purge-operator",
		"cache.cacheops.io/cacheproxy": "edge",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ObjectLabels (-want +got):\n%s", diff)
	}
	if !labels.SelectorFromSet(SelectorLabels("edge")).Matches(labels.Set(got)) {
		t.Error("the selector does not select the objects of its own fleet")
	}
	if labels.SelectorFromSet(SelectorLabels("edge")).Matches(labels.Set(ObjectLabels("edge-2"))) {
		t.Error("the selector of edge selects the pods of edge-2")
	}
	if got[cachev1alpha1.LabelCacheProxy] != "edge" {
		t.Errorf("users select the fleet's pods by %s; got %q", cachev1alpha1.LabelCacheProxy, got[cachev1alpha1.LabelCacheProxy])
	}
}

func TestTokenSecretName(t *testing.T) {
	if got := TokenSecretName("edge"); got != "edge-admin-token" {
		t.Errorf("TokenSecretName = %q", got)
	}
}
