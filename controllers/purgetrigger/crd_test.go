package purgetrigger_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("A PurgeTrigger on an Argo Rollout whose CRD comes after the operator", func() {
	It("follows the Rollout, on every change, from the moment the CRD is installed", func(ctx SpecContext) {
		argo := envtest.CRDInstallOptions{Paths: []string{"testdata"}, ErrorIfPathMissing: true}
		stopManager()
		DeferCleanup(func() {
			// Whatever happens here, the other specs find the CRD.
			_, err := envtest.InstallCRDs(cfg, argo)
			Expect(err).NotTo(HaveOccurred())
		})
		disco, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		// UninstallCRDs does not wait for the CRD to go.
		uninstall := func() {
			GinkgoHelper()
			Expect(envtest.UninstallCRDs(cfg, argo)).To(Succeed())
			Eventually(func() error {
				_, err := disco.ServerResourcesForGroupVersion("argoproj.io/v1alpha1")
				return err
			}).Should(Satisfy(apierrors.IsNotFound), "the API server no longer serves Rollouts")
		}
		uninstall()
		stopManager = startManager()

		ns := newNamespace(ctx)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadRollout, "web")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse,
			cachev1alpha1.ReasonWorkloadKindNotInstalled, "The cluster serves no Rollout.argoproj.io kind: the trigger follows it once its CRD is installed")

		_, err = envtest.InstallCRDs(cfg, argo)
		Expect(err).NotTo(HaveOccurred())
		// Well within the 30s backstop poll: events, not the poll, woke
		// the trigger each time below.
		const soon = 10 * time.Second
		rolloutReason := func(g Gomega) string {
			var got cachev1alpha1.PurgeTrigger
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), &got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, cachev1alpha1.PurgeTriggerConditionRolloutComplete)
			g.Expect(c).NotTo(BeNil())
			return c.Reason
		}
		Eventually(rolloutReason).WithTimeout(soon).Should(Equal(cachev1alpha1.ReasonWorkloadNotFound), "the CRD's events woke the trigger")

		ro := newRollout(ctx, ns, "web")
		setArgoPhase(ctx, ro, "1", "Healthy")
		// The Rollout appeared after the trigger: its first rollout is purged.
		Eventually(func(g Gomega) {
			g.Expect(purgesOf(ctx, t)).To(ConsistOf(HaveField("Annotations", HaveKeyWithValue(cachev1alpha1.AnnotationWorkloadRevision, "1"))))
		}).WithTimeout(soon).Should(Succeed(), "the Rollout is watched")

		setArgoPhase(ctx, ro, "2", "Paused")
		Eventually(rolloutReason).WithTimeout(soon).Should(Equal(cachev1alpha1.ReasonRolloutPaused))
		setArgoPhase(ctx, ro, "2", "Healthy")
		Eventually(func(g Gomega) { g.Expect(purgesOf(ctx, t)).To(HaveLen(2)) }).WithTimeout(soon).Should(Succeed())

		By("following the Rollout again when its CRD is deleted under the watch and installed again")
		uninstall()
		// Not "Rollout web not found": the kind itself is gone.
		Eventually(rolloutReason).WithTimeout(soon).Should(Equal(cachev1alpha1.ReasonWorkloadKindNotInstalled))
		_, err = envtest.InstallCRDs(cfg, argo)
		Expect(err).NotTo(HaveOccurred())
		ro = newRollout(ctx, ns, "web")
		setArgoPhase(ctx, ro, "1", "Healthy")
		// A new Rollout: its first rollout is purged, as above.
		Eventually(func(g Gomega) { g.Expect(purgesOf(ctx, t)).To(HaveLen(3)) }).WithTimeout(soon).Should(Succeed())
		setArgoPhase(ctx, ro, "2", "Healthy")
		Eventually(func(g Gomega) { g.Expect(purgesOf(ctx, t)).To(HaveLen(4)) }).WithTimeout(soon).Should(Succeed(), "the Rollout is watched again")
	})
})
