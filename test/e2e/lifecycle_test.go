package e2e_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

// A Purge kept in Git is applied again and again by a GitOps pipeline; it
// must act once, and its spec cannot be changed after the fact.
var _ = Describe("A Purge file kept in Git", Ordered, func() {
	const file = `# Purge the product page after the 4.2 release.
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: release-42
spec:
  cacheProxyRef:
    name: edge
  urls:
  - https://www.example.com/products/42
`
	var (
		f    *fleet
		done *cachev1alpha1.Purge
	)
	BeforeAll(func(ctx SpecContext) {
		f = newFleet(ctx, "gitops", 3)
		warm(ctx, f.pods, "/products/42")
		Expect(f.apply(ctx, file)).To(ContainSubstring("purge.cache.cacheops.io/release-42 created"))
		done = f.waitPurge(ctx, "release-42", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(done, f.pods)
	})

	It("changes nothing when applied again unchanged: no write, no pod called", func(ctx SpecContext) {
		Expect(f.apply(ctx, file)).To(ContainSubstring("purge.cache.cacheops.io/release-42 unchanged"))
		Consistently(func(g Gomega) {
			p := f.purge(ctx, g, "release-42")
			g.Expect(p.ResourceVersion).To(Equal(done.ResourceVersion), "nothing wrote the Purge")
			g.Expect(p.Status.CompletionTime).To(Equal(done.Status.CompletionTime))
			g.Expect(p.Status).To(Equal(done.Status), "no pod was called again")
		}).WithContext(ctx).Should(Succeed())
	})

	It("changes nothing when a pipeline re-applies it server-side: same generation, no pod called", func(ctx SpecContext) {
		// As Flux does: server-side apply under the pipeline's own field
		// manager. The managed fields may change (so may the
		// resourceVersion); the spec and the generation do not, so the
		// operator has nothing to do.
		Expect(f.mustKubectl(ctx, file, "apply", "--server-side", "--field-manager=gitops-pipeline", "-f", "-")).
			To(ContainSubstring("purge.cache.cacheops.io/release-42 serverside-applied"))
		Consistently(func(g Gomega) {
			p := f.purge(ctx, g, "release-42")
			g.Expect(p.Generation).To(Equal(done.Generation))
			g.Expect(p.Spec).To(Equal(done.Spec))
			g.Expect(p.Status).To(Equal(done.Status), "no pod was called again")
		}).WithContext(ctx).Should(Succeed())
	})

	It("refuses an edit of its spec with the CRD's message, and keeps the old spec", func(ctx SpecContext) {
		edited := strings.Replace(file, "/products/42", "/products/43", 1)
		_, err := f.kubectl(ctx, edited, "apply", "-f", "-")
		Expect(err).To(MatchError(ContainSubstring("spec is immutable: a Purge is a one-off request; create a new Purge to purge again")))
		p := f.purge(ctx, Default, "release-42")
		Expect(p.Spec).To(Equal(done.Spec))
		Expect(p.Generation).To(Equal(done.Generation))
		Expect(p.Status).To(Equal(done.Status))
	})
})

var _ = Describe("Deleting a CacheProxy", func() {
	It("garbage-collects its Deployment, Service, admin-token Secret and pods", func(ctx SpecContext) {
		f := newFleet(ctx, "gc", 3)
		var pids []int
		for _, p := range f.pods {
			procs, err := cluster.PodProcesses(f.ns, p.Name)
			Expect(err).NotTo(HaveOccurred())
			Expect(procs).To(HaveKey("cacheproxy"))
			pids = append(pids, procs["cacheproxy"])
		}
		key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: f.ns, Name: name} }
		children := map[string]client.Object{
			"edge":                             &appsv1.Deployment{},
			"edge/service":                     &corev1.Service{},
			fleetnames.TokenSecretName("edge"): &corev1.Secret{},
		}
		for name, obj := range children {
			Expect(k8sClient.Get(ctx, key(strings.TrimSuffix(name, "/service")), obj)).To(Succeed())
			owner := obj.GetOwnerReferences()
			Expect(owner).To(ConsistOf(And(HaveField("Kind", "CacheProxy"), HaveField("Name", "edge"), HaveField("Controller", HaveValue(BeTrue())))), name)
		}

		Expect(f.mustKubectl(ctx, "", "delete", "cacheproxy", "edge")).To(ContainSubstring(`cacheproxy.cache.cacheops.io "edge" deleted`))
		Eventually(func(g Gomega) {
			for name, obj := range children {
				err := k8sClient.Get(ctx, key(strings.TrimSuffix(name, "/service")), obj)
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s is gone", obj, name)
			}
			var sets appsv1.ReplicaSetList
			g.Expect(k8sClient.List(ctx, &sets, client.InNamespace(f.ns))).To(Succeed())
			g.Expect(sets.Items).To(BeEmpty())
			var pods corev1.PodList
			g.Expect(k8sClient.List(ctx, &pods, client.InNamespace(f.ns),
				client.MatchingLabels{cachev1alpha1.LabelCacheProxy: "edge"})).To(Succeed())
			g.Expect(pods.Items).To(BeEmpty())
		}).WithContext(ctx).Should(Succeed())
		for _, pid := range pids {
			Expect(alive(pid)).To(BeFalse(), "cacheproxy process %d stopped", pid)
		}
		Eventually(func() error {
			_, err := cluster.ServiceAddress(f.ns, "edge", 8080)
			return err
		}).WithContext(ctx).Should(HaveOccurred(), "nothing listens on the Service address any more")
	})
})
