package dashboard

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func fleetPod(name, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: name, Labels: map[string]string{cachev1alpha1.LabelCacheProxy: "edge"}},
		Status:     corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning},
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

// A pod change reads the statistics of the pods it brings, not of every
// pod; the periodic refresh reads them all.
func TestFleetStateReadsStatisticsOfChangedPodsOnly(t *testing.T) {
	fs := newFleetState("web")
	cp := &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "edge"},
		Status:     cachev1alpha1.CacheProxyStatus{Selector: cachev1alpha1.LabelCacheProxy + "=edge", Replicas: 2},
	}
	other := fleetPod("other", "10.0.0.9")
	other.Labels[cachev1alpha1.LabelCacheProxy] = "another"
	_ = fs.deliverProxies(watched{Reset: true, Listed: true, Objects: []client.Object{cp}})
	if fs.ready() {
		t.Fatal("ready before the pods were listed")
	}
	_ = fs.deliverPods(watched{Reset: true, Listed: true, Objects: []client.Object{fleetPod("edge-0", "10.0.0.1"), fleetPod("edge-1", ""), other}})
	if !fs.ready() {
		t.Fatal("not ready once both were listed")
	}
	read := func(all bool) []string {
		pods := fs.podsToRead(all)
		for _, p := range pods {
			fs.setStats(p, podStats{ip: p.Status.PodIP, row: podRow{Objects: ptr.To[int64](4)}})
		}
		return names(pods)
	}
	if got := read(false); !slices.Equal(got, []string{"edge-0"}) {
		t.Errorf("first read: %v, want the fleet's pod with an address", got)
	}
	_ = fs.deliverPods(watched{Event: watch.Modified, Object: fleetPod("edge-1", "10.0.0.2")})
	if got := read(false); !slices.Equal(got, []string{"edge-1"}) {
		t.Errorf("after edge-1 got an address: %v, want edge-1 only", got)
	}
	_ = fs.deliverPods(watched{Event: watch.Modified, Object: fleetPod("edge-0", "10.0.0.3")})
	if got := read(false); !slices.Equal(got, []string{"edge-0"}) {
		t.Errorf("after edge-0 moved: %v, want edge-0 only", got)
	}
	if got := read(false); len(got) != 0 {
		t.Errorf("with nothing changed: %v, want none", got)
	}
	if got := read(true); !slices.Equal(got, []string{"edge-0", "edge-1"}) {
		t.Errorf("refresh: %v, want every pod of the fleet", got)
	}

	_ = fs.deliverPods(watched{Event: watch.Deleted, Object: fleetPod("edge-1", "10.0.0.2")})
	views := fs.views()
	if len(views) != 1 || len(views[0].Pods) != 1 || views[0].Pods[0].Name != "edge-0" || *views[0].Pods[0].Objects != 4 {
		t.Errorf("views after edge-1 was deleted: %+v", views)
	}
	if _, ok := fs.stats[client.ObjectKeyFromObject(fleetPod("edge-1", ""))]; ok {
		t.Error("the statistics of a deleted pod are kept")
	}

	fs.setPods(nil, errors.New(`pods is forbidden: User "viewer" cannot list resource "pods"`))
	if views := fs.views(); views[0].PodsError == "" || len(views[0].Pods) != 0 {
		t.Errorf("views when pods may not be listed: %+v", views)
	}
}
