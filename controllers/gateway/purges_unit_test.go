package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestChunk(t *testing.T) {
	list := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	for _, tc := range []struct {
		urls, tags int
		want       [][2]int // per Purge: URLs, tags
	}{
		{0, 1, [][2]int{{0, 1}}},
		{256, 256, [][2]int{{256, 256}}},
		{257, 3, [][2]int{{256, 3}, {1, 0}}},
		{10, 600, [][2]int{{10, 256}, {0, 256}, {0, 88}}},
	} {
		urls, tags := chunk(list("u", tc.urls), list("t", tc.tags))
		if len(urls) != len(tc.want) {
			t.Errorf("%d URLs, %d tags: %d Purges, want %d", tc.urls, tc.tags, len(urls), len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if len(urls[i]) != w[0] || len(tags[i]) != w[1] {
				t.Errorf("%d URLs, %d tags: Purge %d holds %d URLs, %d tags; want %v", tc.urls, tc.tags, i, len(urls[i]), len(tags[i]), w)
			}
		}
	}
}

func TestPurgeFor(t *testing.T) {
	k := batchKey{namespace: "web", cacheProxy: "edge", mode: cachev1alpha1.PurgeModeSoft, source: cachev1alpha1.PurgeSourceVarnish,
		requestedBy: "system:serviceaccount:web:cms", groups: "system:authenticated,system:serviceaccounts"}
	lines := make([]string, 60)
	for i := range lines {
		lines[i] = fmt.Sprintf("varnish: PURGE / xkey: t%d", i)
	}
	lines[0] += strings.Repeat("x", 2000)
	p := purgeFor(k, nil, []string{"a"}, lines)
	if p.GenerateName != "edge-varnish-" || p.Namespace != "web" || p.Spec.CacheProxyRef.Name != "edge" || p.Spec.Mode != "soft" {
		t.Fatalf("got %+v", p.ObjectMeta)
	}
	if p.Labels[cachev1alpha1.LabelPurgeSource] != "varnish" ||
		p.Annotations[cachev1alpha1.AnnotationRequestedBy] != k.requestedBy ||
		p.Annotations[cachev1alpha1.AnnotationRequestedByGroups] != k.groups {
		t.Fatalf("labels %v, annotations %v", p.Labels, p.Annotations)
	}
	req := p.Annotations[cachev1alpha1.AnnotationRequest]
	if n := strings.Count(req, "\n"); n != maxRequestLines || !strings.HasSuffix(req, "... and 10 more requests") || len(req) > 64<<10 {
		t.Fatalf("request annotation: %d lines, %d bytes, ends %q", n, len(req), req[len(req)-30:])
	}
}

func TestAddressNamed(t *testing.T) {
	for _, tc := range []struct {
		a        address
		ns, name string
		ok       bool
	}{
		{address{id: "web.edge"}, "web", "edge", true},
		{address{id: "web"}, "", "", false},
		{address{id: "Web.edge"}, "", "", false},
		{address{host: "edge-purge.web"}, "web", "edge", true},
		{address{host: "edge-purge.web.svc"}, "web", "edge", true},
		{address{host: "edge-purge.web.svc.cluster.local"}, "web", "edge", true},
		{address{host: "www.example.com"}, "", "", false},
		{address{host: "edge.web.svc"}, "", "", false},
	} {
		ns, name, ok := tc.a.named()
		if ok != tc.ok || ok && (ns != tc.ns || name != tc.name) {
			t.Errorf("%+v: named() = %q, %q, %v; want %q, %q, %v", tc.a, ns, name, ok, tc.ns, tc.name, tc.ok)
		}
	}
	if got := hostOf("WWW.Example.com.:8090"); got != "www.example.com" {
		t.Errorf("hostOf = %q", got)
	}
}

// TestBoundsMatchTheCRD holds MaxPurgeURLs and MaxPurgeTags to the CRD's
// maxItems, which markers set and no constant can.
func TestBoundsMatchTheCRD(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "cache.cacheops.io_purges.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties
	for field, want := range map[string]int{"urls": cachev1alpha1.MaxPurgeURLs, "tags": cachev1alpha1.MaxPurgeTags} {
		if got := spec[field].MaxItems; got == nil || *got != int64(want) {
			t.Errorf("spec.%s: the CRD says maxItems %v, the constant %d", field, got, want)
		}
	}
}
