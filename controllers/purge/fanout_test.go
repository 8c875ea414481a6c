package purge

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

func TestInvalidationFor(t *testing.T) {
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{UID: "u-1", Generation: 2},
		Spec:       cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeSoft, URLs: []string{"https://x/a"}, Tags: []string{"t"}, Refetch: true, DryRun: true},
	}
	req := invalidationFor(p)
	if req.ID != "u-1/2" || req.Mode != admin.ModeSoft || !req.Refetch || !req.DryRun || req.URLs[0] != "https://x/a" || req.Tags[0] != "t" {
		t.Errorf("request %+v", req)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("the request fails the proxy's validation: %v", err)
	}
}
