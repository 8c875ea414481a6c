package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// newNamespace creates a namespace of its own for one spec.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "validation-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8sClient.Delete(ctx, ns)).To(Succeed()) })
	return ns.Name
}

// fromYAML decodes one manifest as the API server will see it from kubectl.
func fromYAML(manifest, namespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed(), manifest)
	u.SetNamespace(namespace)
	return u
}

const purgeHead = `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata: {name: bad}
`

const triggerHead = `
apiVersion: cache.cacheops.io/v1alpha1
kind: PurgeTrigger
metadata: {name: bad}
`

const cacheProxyHead = `
apiVersion: cache.cacheops.io/v1alpha1
kind: CacheProxy
metadata: {name: bad}
`

// quoted renders a YAML list of n copies of item.
func quoted(n int, item func(i int) string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%q", item(i))
	}
	return "[" + strings.Join(items, ", ") + "]"
}

var _ = Describe("The CRDs", func() {
	It("accept every sample under config/samples", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "cache_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(7))
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			Expect(k8sClient.Create(ctx, fromYAML(string(data), ns))).To(Succeed(), f)
		}
	})

	It("fill in the documented defaults", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, fromYAML(purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/a.js"]}`, ns))).To(Succeed())
		var p cachev1alpha1.Purge
		Expect(k8sClient.Get(ctx, keyOf(ns, "bad"), &p)).To(Succeed())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSimple))
		Expect(p.Spec.DeadlineSeconds).To(Equal(cachev1alpha1.DefaultDeadlineSeconds))
		Expect(p.Spec.Refetch).To(BeFalse())
		Expect(p.Spec.TTLSecondsAfterFinished).To(BeNil())

		Expect(k8sClient.Create(ctx, fromYAML(cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}}`, ns))).To(Succeed())
		var cp cachev1alpha1.CacheProxy
		Expect(k8sClient.Get(ctx, keyOf(ns, "bad"), &cp)).To(Succeed())
		Expect(cp.Spec.Replicas).To(Equal(ptr.To[int32](1)))
		Expect(cp.Spec.Cache.MaxSize.String()).To(Equal("256Mi"))
		Expect(cp.Spec.Origin.TimeoutSeconds).To(Equal(int32(30)))
	})

	It("accept a host-root ban when it is confirmed", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, fromYAML(purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, confirmHostRootBan: true, urls: ["https://www.example.com/"]}`, ns))).To(Succeed())
	})

	It("accept a ban below the root, with wildcards", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, fromYAML(purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/img/", "http://*.example.com/*.css", "https://www.example.com/a?*"]}`, ns))).To(Succeed())
	})

	DescribeTable("refuse a bad manifest with a message saying what to fix",
		func(ctx SpecContext, manifest string, want ...string) {
			ns := newNamespace(ctx)
			// kubectl asks for strict field validation by default; so do we.
			strict := client.WithFieldValidation(k8sClient, metav1.FieldValidationStrict)
			err := strict.Create(ctx, fromYAML(manifest, ns))
			Expect(err).To(HaveOccurred(), "the API server accepted:\n%s", manifest)
			GinkgoWriter.Println("refused:", err)
			Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "%v", err)
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("unknown mode", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: hard, urls: ["https://www.example.com/a"]}`,
			`spec.mode`, `Unsupported value: "hard"`, `"simple", "soft", "ban"`),
		Entry("neither urls nor tags", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: simple}`,
			"at least one of urls or tags is required"),
		Entry("empty urls and tags", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: [], tags: []}`,
			"at least one of urls or tags is required"),
		Entry("relative URL", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["/img/logo.png"]}`,
			"spec.urls[0]", "must be an absolute http:// or https:// URL"),
		Entry("URL without scheme", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/ok", "www.example.com/a.js"]}`,
			"spec.urls[1]", "must be an absolute http:// or https:// URL"),
		Entry("non-http(s) scheme", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["ftp://www.example.com/a.js"]}`,
			"spec.urls[0]", "must be an absolute http:// or https:// URL"),
		Entry("URL with a fragment", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/a.html#top"]}`,
			"spec.urls[0]", "no #fragment"),
		Entry("URL with user info", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://admin@www.example.com/a.js"]}`,
			"spec.urls[0]", "must be an absolute http:// or https:// URL"),
		Entry("URL with a space", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/a b.js"]}`,
			"spec.urls[0]", "spaces"),
		Entry("URL over the length bound", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/`+strings.Repeat("a", 2049)+`"]}`,
			"spec.urls[0]", "Too long", "2048"),
		Entry("more URLs than the bound", purgeHead+`
spec: {cacheProxyRef: {name: edge}, urls: `+quoted(257, func(i int) string { return fmt.Sprintf("https://www.example.com/%d", i) })+`}`,
			"spec.urls", "Too many", "256"),
		Entry("more tags than the bound", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: `+quoted(257, func(i int) string { return fmt.Sprintf("t%d", i) })+`}`,
			"spec.tags", "Too many", "256"),
		Entry("empty tag", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: ["product-1", ""]}`,
			"spec.tags[1]"),
		Entry("whitespace-only tag", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: ["   "]}`,
			"spec.tags[0]", "no spaces, commas or control characters"),
		Entry("tag with a space", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: ["product 42"]}`,
			"spec.tags[0]", "no spaces, commas or control characters"),
		Entry("tag with a comma", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: ["a,b"]}`,
			"spec.tags[0]", "no spaces, commas or control characters"),
		Entry("tag over the length bound", purgeHead+`
spec: {cacheProxyRef: {name: edge}, tags: ["`+strings.Repeat("t", 257)+`"]}`,
			"spec.tags[0]", "Too long"),
		Entry("tags with ban", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/img/"], tags: ["product-42"]}`,
			"tags are not allowed with mode ban"),
		Entry("refetch with ban", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, refetch: true, urls: ["https://www.example.com/img/"]}`,
			"refetch is not allowed with mode ban"),
		Entry("host-root ban without confirmation", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/"]}`,
			"confirmHostRootBan: true"),
		Entry("host-root ban with a trailing wildcard", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/img/", "http://www.example.com/*"]}`,
			"confirmHostRootBan: true"),
		Entry("host-root ban without a slash", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, confirmHostRootBan: false, urls: ["https://www.example.com"]}`,
			"confirmHostRootBan: true"),
		Entry("ban through a dot segment, even confirmed", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, confirmHostRootBan: true, urls: ["https://www.example.com/img/../*"]}`,
			"must not hold a '.' or '..' segment (also spelt %2E) or '//'", "write the pattern as the cache reads it"),
		Entry("ban of a host's root through '//'", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com//*"]}`,
			"or '//': the cache resolves them before matching"),
		Entry("more ban patterns with a wildcard host than the proxy takes", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: ban, urls: `+quoted(17, func(i int) string { return fmt.Sprintf("https://*.example%d.com/img/", i) })+`}`,
			"at most 16 ban patterns may have a '*' in the host", "split them into several Purges"),
		Entry("wildcard in a simple purge", purgeHead+`
spec: {cacheProxyRef: {name: edge}, mode: simple, urls: ["https://www.example.com/img/*"]}`,
			"must not contain '*'", "mode ban"),
		Entry("missing cacheProxyRef", purgeHead+`
spec: {urls: ["https://www.example.com/a.js"]}`,
			"spec.cacheProxyRef", "Required value"),
		Entry("empty cacheProxyRef name", purgeHead+`
spec: {cacheProxyRef: {name: ""}, urls: ["https://www.example.com/a.js"]}`,
			"spec.cacheProxyRef.name", "at least 1 chars long"),
		Entry("missing spec", purgeHead,
			"spec", "Required value"),
		Entry("zero deadline", purgeHead+`
spec: {cacheProxyRef: {name: edge}, deadlineSeconds: 0, urls: ["https://www.example.com/a.js"]}`,
			"spec.deadlineSeconds", "greater than or equal to 1"),
		Entry("negative ttlSecondsAfterFinished", purgeHead+`
spec: {cacheProxyRef: {name: edge}, ttlSecondsAfterFinished: -1, urls: ["https://www.example.com/a.js"]}`,
			"spec.ttlSecondsAfterFinished", "greater than or equal to 0"),
		Entry("a pod named twice", purgeHead+`
spec: {cacheProxyRef: {name: edge}, podNames: [edge-1, edge-1], urls: ["https://www.example.com/a.js"]}`,
			"spec.podNames[1]", `Duplicate value: "edge-1"`),
		Entry("unknown field (strict decoding)", purgeHead+`
spec: {cacheProxyRef: {name: edge}, url: "https://www.example.com/a.js", urls: ["https://www.example.com/a.js"]}`,
			`unknown field "spec.url"`),

		Entry("PurgeTrigger on an unsupported kind", triggerHead+`
spec: {workloadRef: {kind: DaemonSet, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/"]}}}`,
			"spec.workloadRef.kind", `Unsupported value: "DaemonSet"`, `"Deployment", "StatefulSet", "Rollout"`),
		Entry("PurgeTrigger without a workload name", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: ""}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/"]}}}`,
			"spec.workloadRef.name"),
		Entry("PurgeTrigger whose template has tags with ban (the Purge's own rule)", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/img/"], tags: [a]}}}`,
			"spec.purgeTemplate.spec", "tags are not allowed with mode ban"),
		Entry("PurgeTrigger whose template bans a host's root unconfirmed", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, mode: ban, urls: ["https://www.example.com/"]}}}`,
			"confirmHostRootBan: true"),
		Entry("PurgeTrigger whose template has a relative URL", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, urls: ["/a.js"]}}}`,
			"spec.purgeTemplate.spec.urls[0]", "must be an absolute http:// or https:// URL"),
		Entry("PurgeTrigger whose template names pods", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, podNames: [web-1], urls: ["https://www.example.com/a.js"]}}}`,
			"spec.purgeTemplate.spec", "podNames is not allowed in a PurgeTrigger's template"),
		Entry("PurgeTrigger without a template", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}}`,
			"spec.purgeTemplate", "Required value"),
		Entry("PurgeTrigger with a history over the bound", triggerHead+`
spec: {workloadRef: {kind: Deployment, name: web}, historyLimit: 21, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/"]}}}`,
			"spec.historyLimit", "less than or equal to 20"),
		Entry("PurgeTrigger with a name over 63 characters", `
apiVersion: cache.cacheops.io/v1alpha1
kind: PurgeTrigger
metadata: {name: `+strings.Repeat("t", 64)+`}
spec: {workloadRef: {kind: Deployment, name: web}, purgeTemplate: {spec: {cacheProxyRef: {name: edge}, urls: ["https://www.example.com/"]}}}`,
			"at most 63 characters"),

		Entry("CacheProxy with negative replicas", cacheProxyHead+`
spec: {replicas: -1, origin: {url: "http://web:8080"}}`,
			"spec.replicas", "greater than or equal to 0"),
		Entry("CacheProxy with too many replicas", cacheProxyHead+`
spec: {replicas: 501, origin: {url: "http://web:8080"}}`,
			"spec.replicas", "less than or equal to 500"),
		Entry("CacheProxy with a non-http(s) origin", cacheProxyHead+`
spec: {origin: {url: "ftp://web:21"}}`,
			"spec.origin.url", "must be an absolute http:// or https:// URL"),
		Entry("CacheProxy with a relative origin", cacheProxyHead+`
spec: {origin: {url: "/web"}}`,
			"spec.origin.url", "must be an absolute http:// or https:// URL"),
		Entry("CacheProxy without origin", cacheProxyHead+`
spec: {replicas: 2}`,
			"spec.origin", "Required value"),
		Entry("CacheProxy with an unparsable cache size", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, cache: {maxSize: "lots"}}`,
			"spec.cache.maxSize", "quantities must match the regular expression"),
		Entry("CacheProxy with a cache below 1Mi", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, cache: {maxSize: "1Ki"}}`,
			"cache.maxSize must be at least 1Mi"),
		Entry("CacheProxy with a zero max object size", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, cache: {maxObjectSize: "0"}}`,
			"cache.maxObjectSize must be at least 1 byte"),
		Entry("CacheProxy with an upper-case host", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, hosts: ["WWW.EXAMPLE.COM"]}`,
			"spec.hosts[0]", "must be a lower-case DNS name"),
		Entry("CacheProxy with a URL as host", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, hosts: ["https://www.example.com/"]}`,
			"spec.hosts[0]", "must be a lower-case DNS name"),
		Entry("CacheProxy allowing unauthenticated purges from no selector", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, purgeGateway: {allowUnauthenticatedFrom: {}}}`,
			"spec.purgeGateway.allowUnauthenticatedFrom", "set podSelector, namespaceSelector or both"),
		Entry("CacheProxy with an unknown purge gateway field", cacheProxyHead+`
spec: {origin: {url: "http://web:8080"}, purgeGateway: {enable: true}}`,
			`unknown field "spec.purgeGateway.enable"`),
	)

	Describe("a Purge after creation", func() {
		var (
			ns    string
			purge *cachev1alpha1.Purge
		)
		BeforeEach(func(ctx SpecContext) {
			ns = newNamespace(ctx)
			purge = &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
				Spec: cachev1alpha1.PurgeSpec{
					CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
					URLs:          []string{"https://www.example.com/a.js"},
				},
			}
			Expect(k8sClient.Create(ctx, purge)).To(Succeed())
		})

		It("refuses an edit of its spec", func(ctx SpecContext) {
			purge.Spec.URLs = []string{"https://www.example.com/b.js"}
			err := k8sClient.Update(ctx, purge)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("spec is immutable"))
			Expect(err.Error()).To(ContainSubstring("create a new Purge"))
		})

		It("refuses a change of mode", func(ctx SpecContext) {
			purge.Spec.Mode = cachev1alpha1.PurgeModeSoft
			Expect(k8sClient.Update(ctx, purge)).To(MatchError(ContainSubstring("spec is immutable")))
		})

		It("still takes labels, annotations and status", func(ctx SpecContext) {
			purge.Labels = map[string]string{"team": "web"}
			Expect(k8sClient.Update(ctx, purge)).To(Succeed())
			purge.Status.Phase = cachev1alpha1.PurgeRunning
			purge.Status.Progress = "0/3"
			Expect(k8sClient.Status().Update(ctx, purge)).To(Succeed())
		})
	})
})
