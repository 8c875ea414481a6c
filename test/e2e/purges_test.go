package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The specs of this file apply each kind of Purge from YAML to a fleet of
// three pods whose caches were filled pod by pod, wait for it with kubectl,
// and check on every pod, and through the Service, what users now get and
// what Cache-Status says about it.
var _ = Describe("Purging a fleet with kubectl", func() {
	It("simple: every pod drops the URL, so the next request is a miss that stores a new version", func(ctx SpecContext) {
		f := newFleet(ctx, "simple", 3)
		before := warm(ctx, f.pods, "/products/1", "/products/2")

		out := f.apply(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: product-1
spec:
  cacheProxyRef:
    name: edge
  mode: simple
  urls:
  - https://www.example.com/products/1
`)
		Expect(out).To(ContainSubstring("purge.cache.cacheops.io/product-1 created"))
		p := f.waitPurge(ctx, "product-1", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Status.ObjectsInvalidated).To(BeEquivalentTo(3), "one object on each pod")

		after := map[int]bool{}
		for _, pod := range f.pods {
			after[expectMiss(ctx, pod, "/products/1", before).Version] = true
			expectHit(ctx, pod, "/products/2", before)
		}
		f.expectServiceServes(ctx, "/products/1", after, csHit)

		By("kubectl get and describe show the result at a glance")
		out = f.mustKubectl(ctx, "", "get", "purges")
		Expect(out).To(MatchRegexp(`(?m)^NAME\s+TARGET\s+MODE\s+PROGRESS\s+STATE\s+AGE$`))
		Expect(out).To(MatchRegexp(`(?m)^product-1\s+edge\s+simple\s+3/3\s+Complete\s+\S+$`))
		Eventually(func(g Gomega) {
			out, err := f.kubectl(ctx, "", "describe", "purge", "product-1")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(MatchRegexp(`Normal\s+Started\s.*Purging 3 pods of CacheProxy edge`))
			g.Expect(out).To(MatchRegexp(`Normal\s+Completed\s.*3 pods succeeded, 0 gone; 3 objects invalidated`))
		}).WithContext(ctx).Should(Succeed())
	})

	It("soft: every pod serves its stale copy at once, then the refreshed one", func(ctx SpecContext) {
		f := newFleet(ctx, "soft", 3)
		before := warm(ctx, f.pods, "/products/3")
		// The content changed at the origin: that is why one purges.
		f.origin.edit(ctx, "/products/3")

		f.apply(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: product-3-soft
spec:
  cacheProxyRef:
    name: edge
  mode: soft
  urls:
  - https://www.example.com/products/3
`)
		p := f.waitPurge(ctx, "product-3-soft", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Status.ObjectsInvalidated).To(BeEquivalentTo(3), "one object marked stale on each pod")

		after := map[int]bool{}
		for _, pod := range f.pods {
			r := mustGet(ctx, podAddr(pod), "/products/3")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(r.Version).To(Equal(before[pod.Name]["/products/3"]), "%s serves its stale copy at once", pod.Name)
			Expect(r.CacheStatus).To(ContainSubstring(csStale), pod.Name)
			Expect(r.CacheStatus).To(ContainSubstring(csSoftPurged), pod.Name)
			// That request started one background refresh.
			Eventually(func(g Gomega) {
				r, err := get(ctx, podAddr(pod), "/products/3")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(r.CacheStatus).To(HavePrefix(csHit))
				g.Expect(r.Version).To(BeNumerically(">", before[pod.Name]["/products/3"]))
				after[r.Version] = true
			}).WithContext(ctx).Should(Succeed(), "%s refreshed its copy", pod.Name)
		}
		f.expectServiceServes(ctx, "/products/3", after, csHit)
	})

	It("ban: every pod drops what the patterns match and keeps the rest", func(ctx SpecContext) {
		f := newFleet(ctx, "ban", 3)
		banned := []string{"/img/a.svg", "/img/b.svg", "/api/products/12", "/api/products/1"}
		kept := []string{"/api/products/2", "/products/1", "/"}
		before := warm(ctx, f.pods, append(append([]string{}, banned...), kept...)...)

		// A prefix, and a pattern with "*".
		f.apply(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: images-and-api-1x
spec:
  cacheProxyRef:
    name: edge
  mode: ban
  urls:
  - https://www.example.com/img/
  - http://www.example.com/api/products/1*
`)
		p := f.waitPurge(ctx, "images-and-api-1x", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		for _, s := range p.Status.Pods {
			Expect(s.Matched).To(BeEquivalentTo(len(banned)), "objects matched on %s", s.Name)
		}
		for _, pod := range f.pods {
			for _, path := range banned {
				expectMiss(ctx, pod, path, before)
			}
			for _, path := range kept {
				expectHit(ctx, pod, path, before)
			}
		}
	})

	It("tags: every pod drops the objects that carried the tag, whatever their URL", func(ctx SpecContext) {
		f := newFleet(ctx, "tags", 3)
		tagged := []string{"/products/42", "/img/product-42.svg", "/api/products/42"}
		untagged := []string{"/products/43", "/img/product-43.svg"}
		before := warm(ctx, f.pods, append(append([]string{}, tagged...), untagged...)...)

		f.apply(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: product-42
spec:
  cacheProxyRef:
    name: edge
  tags:
  - product-42
`)
		p := f.waitPurge(ctx, "product-42", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSimple), "the default mode")
		Expect(p.Status.ObjectsInvalidated).To(BeEquivalentTo(3 * len(tagged)))
		for _, pod := range f.pods {
			for _, path := range tagged {
				r := expectMiss(ctx, pod, path, before)
				Expect(r.Body).NotTo(BeEmpty())
			}
			for _, path := range untagged {
				expectHit(ctx, pod, path, before)
			}
		}
	})

	It("refetch: every pod stores the new version itself, so users get a hit, never a miss", func(ctx SpecContext) {
		f := newFleet(ctx, "refetch", 3)
		const path = "/products/5"
		before := warm(ctx, f.pods, path)
		renders := f.origin.requests(path)

		f.apply(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: product-5-refetch
spec:
  cacheProxyRef:
    name: edge
  mode: simple
  refetch: true
  urls:
  - https://www.example.com/products/5
`)
		p := f.waitPurge(ctx, "product-5-refetch", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Status.ObjectsRefetched).To(BeEquivalentTo(3))
		for _, s := range p.Status.Pods {
			Expect(s.Refetched).To(BeEquivalentTo(1), s.Name)
			Expect(s.LastError).To(BeEmpty(), s.Name)
		}
		Expect(f.origin.requests(path)).To(Equal(renders+3), "one refetch per pod")

		after := map[int]bool{}
		for _, pod := range f.pods {
			r := mustGet(ctx, podAddr(pod), path)
			Expect(r.CacheStatus).To(HavePrefix(csHit), "%s answers from its refetched copy", pod.Name)
			Expect(r.Version).To(BeNumerically(">", before[pod.Name][path]), pod.Name)
			after[r.Version] = true
		}
		f.expectServiceServes(ctx, path, after, csHit)
		Expect(f.origin.requests(path)).To(Equal(renders+3), "no user request reached the origin")
	})

	It("runs the sample Purges of config/samples to completion", func(ctx SpecContext) {
		f := newFleet(ctx, "samples", 3)
		args := []string{"apply"}
		for _, kind := range []string{"simple", "soft", "ban", "tags", "refetch"} {
			args = append(args, "-f", filepath.Join(paths.root, "config", "samples", "cache_v1alpha1_purge_"+kind+".yaml"))
		}
		out := f.mustKubectl(ctx, "", args...)
		for _, name := range []string{"app-js", "home-soft", "images", "product-42", "prices-refetch"} {
			Expect(out).To(ContainSubstring("purge.cache.cacheops.io/" + name + " created"))
		}
		f.mustKubectl(ctx, "", "wait", "--for=condition=Complete", "purges", "--all", "--timeout=90s")

		var list cachev1alpha1.PurgeList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(f.ns))).To(Succeed())
		Expect(list.Items).To(HaveLen(5))
		for i := range list.Items {
			expectAllSucceeded(&list.Items[i], f.pods)
		}
	})
})

// expectAllSucceeded checks that a Purge chose exactly pods as targets and
// that each applied it at the first attempt.
func expectAllSucceeded(p *cachev1alpha1.Purge, pods []corev1.Pod) {
	GinkgoHelper()
	Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeComplete), p.Name)
	Expect(meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete)).To(BeTrue(), p.Name)
	Expect(meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed)).To(BeFalse(), p.Name)
	Expect(targetNames(p)).To(ConsistOf(names(pods)), "%s targets the fleet's pods", p.Name)
	Expect(p.Status.Progress).To(Equal(fmt.Sprintf("%d/%d", len(pods), len(pods))), p.Name)
	Expect(p.Status.SucceededPods).To(BeEquivalentTo(len(pods)), p.Name)
	Expect(p.Status.CompletionTime).NotTo(BeNil(), p.Name)
	for _, s := range p.Status.Pods {
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded), "%s on %s", p.Name, s.Name)
		Expect(s.Attempts).To(BeEquivalentTo(1), "%s on %s", p.Name, s.Name)
	}
}

// expectServiceServes sends requests through the Service, whose
// connections kube-proxy spreads over the pods at random, until every pod
// answered, and checks that each answer has the given Cache-Status and one
// of want's versions, and that together they came from every pod (every
// version of want was seen).
//
// The pods are behind the Service's EndpointSlice when the fleet is ready,
// but kube-proxy writes its rules a moment later (its sync runs at most
// once a second, later on a loaded machine), so a pod may be out of reach
// for the first requests, and before the first rules a connection to the
// Service's address goes nowhere (in one CI run a request to it waited
// 10 s for nothing right after every pod had answered directly): the loop
// retries those, rather than giving up after a fixed count or at the first
// unanswered request. A wrong answer fails at once.
func (f *fleet) expectServiceServes(ctx context.Context, path string, want map[int]bool, cacheStatus string) {
	GinkgoHelper()
	addr := f.serviceAddress(ctx)
	seen := map[int]bool{}
	Eventually(func(g Gomega) {
		r, err := get(ctx, addr, path)
		g.Expect(err).NotTo(HaveOccurred(), "GET %s%s through the Service", addr, path)
		GinkgoWriter.Printf("GET %s%s: %s\n", addr, path, r)
		Expect(r.Status).To(Equal(http.StatusOK), "GET %s through the Service", path)
		Expect(r.CacheStatus).To(ContainSubstring(cacheStatus), "GET %s through the Service", path)
		Expect(want).To(HaveKey(r.Version), "GET %s through the Service: a version the pods hold", path)
		seen[r.Version] = true
		g.Expect(seen).To(HaveLen(len(want)), "the Service reached every pod")
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(20 * time.Millisecond).Should(Succeed())
}

// purgeFile is the YAML of a simple Purge of urls on the fleet "edge", as a
// user would keep it in a file; extra lines go under spec.
func purgeFile(name string, urls []string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: cache.cacheops.io/v1alpha1\nkind: Purge\nmetadata:\n  name: %s\nspec:\n  cacheProxyRef:\n    name: edge\n", name)
	for _, e := range extra {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	b.WriteString("  urls:\n")
	for _, u := range urls {
		fmt.Fprintf(&b, "  - https://%s%s\n", host, u)
	}
	return b.String()
}
