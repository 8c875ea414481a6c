package purgetrigger_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("The PurgeTrigger controller", func() {
	It("purges once after a rollout completes, not before", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		// Revision 1 was rolled out before the trigger existed.
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionPurged, metav1.ConditionTrue, cachev1alpha1.ReasonRevisionPredatesTrigger)
		Expect(purgesOf(ctx, t)).To(BeEmpty())

		web.deploy(ctx, "web:v2", 2)
		triggerState(ctx, t, "2")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonRolloutInProgress,
			"1 out of 2 new replicas have been updated")
		web.progress(ctx, 3, 2, 2)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonRolloutInProgress,
			"1 old replicas are pending termination")
		noPurgeFor(ctx, t, time.Second, 0)

		completed := web.complete(ctx)
		p := onePurgeOf(ctx, t, "2")
		Expect(p.CreationTimestamp.Time).To(BeTemporally(">=", completed.Time), "the Purge was created after the last new pod became available")
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.URLs).To(ConsistOf("https://www.example.com/", "https://www.example.com/app.js"))
		Expect(p.Spec.CacheProxyRef.Name).To(Equal("edge"))
		Expect(p.Labels).To(HaveKeyWithValue("team", "web"))
		Expect(p.Name).To(HavePrefix("web-2-"))
		Expect(metav1.IsControlledBy(&p, t)).To(BeTrue())

		got := purgedState(ctx, t, "2")
		Expect(got.Status.LastPurgeTime).NotTo(BeNil())
		Expect(got.Status.RecentPurges).To(HaveLen(1))
		Expect(got.Status.RecentPurges[0].Name).To(Equal(p.Name))
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionTrue, cachev1alpha1.ReasonRolloutComplete)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionPurged, metav1.ConditionFalse, cachev1alpha1.ReasonPurgeRunning)

		By("recording the Purge's result")
		finish(ctx, &p, cachev1alpha1.PurgeComplete)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionPurged, metav1.ConditionTrue, cachev1alpha1.ReasonPurgeComplete)
		got = triggerState(ctx, t, "2")
		Expect(got.Status.RecentPurges[0].Phase).To(Equal(cachev1alpha1.PurgeComplete))
		Expect(got.Status.RecentPurges[0].ObjectsInvalidated).To(Equal(int64(42)))
		Eventually(func() []string { return eventReasons(ctx, t) }).Should(ContainElement(cachev1alpha1.ReasonPurgeCreated))

		By("not purging again for status changes of the same revision (a scale-up)")
		web.progress(ctx, 2, 2, 2)
		noPurgeFor(ctx, t, time.Second, 1)
	})

	It("purges nothing while an updated pod never becomes ready, and says why", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:broken", 2)
		// The new pod runs but fails its readiness probe: updated, not available.
		web.progress(ctx, 3, 1, 2)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonRolloutInProgress,
			`Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated`)
		noPurgeFor(ctx, t, time.Second, 0)

		web.exceedDeadline(ctx)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonProgressDeadlineExceeded,
			"exceeded its progress deadline")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionPurged, metav1.ConditionFalse, cachev1alpha1.ReasonWaitingForRollout)
		Eventually(func() []string { return eventReasons(ctx, t) }).Should(ContainElement(cachev1alpha1.ReasonProgressDeadlineExceeded))
		noPurgeFor(ctx, t, time.Second, 0)
	})

	It("purges nothing while a rollout is paused", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:v2", 2)
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(web.d), web.d)).To(Succeed())
		web.d.Spec.Paused = true
		Expect(k8sClient.Update(ctx, web.d)).To(Succeed())
		web.progress(ctx, 3, 1, 3)
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonRolloutPaused)
		noPurgeFor(ctx, t, time.Second, 0)

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(web.d), web.d)).To(Succeed())
		web.d.Spec.Paused = false
		Expect(k8sClient.Update(ctx, web.d)).To(Succeed())
		web.complete(ctx)
		onePurgeOf(ctx, t, "2")
	})

	It("purges exactly once when the operator restarts mid-rollout", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:v2", 2)
		triggerState(ctx, t, "2")

		stopManager()
		web.complete(ctx)
		stopManager = startManager()
		onePurgeOf(ctx, t, "2")

		By("restarting again after the Purge exists: no second one")
		stopManager()
		stopManager = startManager()
		web.progress(ctx, 2, 2, 2)
		noPurgeFor(ctx, t, 2*time.Second, 1)
	})

	It("adopts the Purge of a pass that died before writing status", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:v2", 2)
		triggerState(ctx, t, "2")

		stopManager()
		// What a manager that created the Purge and died before recording
		// it would leave: the Purge, and a status that does not know it.
		first := onePurgeAfterCompletingWithoutManager(ctx, web, t)
		stopManager = startManager()
		got := purgedState(ctx, t, "2")
		Expect(got.Status.RecentPurges).To(HaveLen(1))
		Expect(got.Status.RecentPurges[0].Name).To(Equal(first))
		noPurgeFor(ctx, t, time.Second, 1)
	})

	It("purges after a rollback, which is a new revision", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:v2", 2)
		web.complete(ctx)
		onePurgeOf(ctx, t, "2")

		// kubectl rollout undo: the template of revision 1 comes back as revision 3.
		web.deploy(ctx, "web:v1", 3)
		noPurgeFor(ctx, t, time.Second, 1)
		web.complete(ctx)
		nthPurge(ctx, t, 2, "3")
		got := triggerState(ctx, t, "3")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), got)).To(Succeed())
			g.Expect(got.Status.RecentPurges).To(HaveLen(2))
		}).Should(Succeed())
		Expect(got.Status.RecentPurges[0].Revision).To(Equal("3"), "newest first")
		Expect(got.Status.RecentPurges[1].Revision).To(Equal("2"))
	})

	It("gives each of two triggers on one workload its own Purge", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		a := newTrigger(ctx, ns, "edge-eu", cachev1alpha1.WorkloadDeployment, "web")
		b := newTrigger(ctx, ns, "edge-us", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, a, "1")
		triggerState(ctx, b, "1")
		web.deploy(ctx, "web:v2", 2)
		web.complete(ctx)
		pa, pb := onePurgeOf(ctx, a, "2"), onePurgeOf(ctx, b, "2")
		Expect(pa.Name).NotTo(Equal(pb.Name))
	})

	It("purges nothing more once the trigger is deleted", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		triggerState(ctx, t, "1")
		web.deploy(ctx, "web:v2", 2)
		web.complete(ctx)
		onePurgeOf(ctx, t, "2")

		Expect(k8sClient.Delete(ctx, t)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(t), t) }).Should(Satisfy(apierrorsIsNotFound))
		web.deploy(ctx, "web:v3", 3)
		web.complete(ctx)
		var all cachev1alpha1.PurgeList
		Consistently(func(g Gomega) {
			g.Expect(k8sClient.List(ctx, &all, client.InNamespace(ns))).To(Succeed())
			g.Expect(all.Items).To(HaveLen(1))
		}).Should(Succeed())
	})

	It("keeps the last historyLimit Purges in status", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 1)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), t)).To(Succeed())
			t.Spec.HistoryLimit = 2
			g.Expect(k8sClient.Update(ctx, t)).To(Succeed())
		}).Should(Succeed())
		triggerState(ctx, t, "1")
		for rev := 2; rev <= 4; rev++ {
			web.deploy(ctx, "web:v"+string(rune('0'+rev)), rev)
			web.complete(ctx)
			nthPurge(ctx, t, rev-1, string(rune('0'+rev)))
		}
		Eventually(func(g Gomega) {
			got := &cachev1alpha1.PurgeTrigger{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), got)).To(Succeed())
			g.Expect(got.Status.RecentPurges).To(HaveLen(2))
			g.Expect(got.Status.RecentPurges[0].Revision).To(Equal("4"))
			g.Expect(got.Status.RecentPurges[1].Revision).To(Equal("3"))
		}).Should(Succeed())
	})

	It("purges the first rollout of a workload created after the trigger, and waits for a missing one", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadDeployment, "web")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonWorkloadNotFound,
			`Deployment "web" not found`)
		newDeployment(ctx, ns, "web", 2)
		onePurgeOf(ctx, t, "1")
	})

	It("follows a StatefulSet's revisions through its ControllerRevisions", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		labels := map[string]string{"app": "db"}
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: podTemplate(labels, "db:v1"),
			},
		}
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		setStatefulSet(ctx, s, "db-aaa", 1, "db-aaa", 2)
		t := newTrigger(ctx, ns, "db", cachev1alpha1.WorkloadStatefulSet, "db")
		triggerState(ctx, t, "1")

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		s.Spec.Template = podTemplate(labels, "db:v2")
		Expect(k8sClient.Update(ctx, s)).To(Succeed())
		setStatefulSet(ctx, s, "db-bbb", 2, "db-aaa", 1)
		triggerState(ctx, t, "2")
		noPurgeFor(ctx, t, time.Second, 0)
		setStatefulSet(ctx, s, "db-bbb", 2, "db-bbb", 2)
		onePurgeOf(ctx, t, "2")
	})

	It("follows an Argo Rollout through its status phase", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		ro := newRollout(ctx, ns, "web")
		setArgoPhase(ctx, ro, "1", "Healthy")
		t := newTrigger(ctx, ns, "web", cachev1alpha1.WorkloadRollout, "web")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionPurged, metav1.ConditionTrue, cachev1alpha1.ReasonRevisionPredatesTrigger)

		setArgoPhase(ctx, ro, "2", "Paused")
		condition(ctx, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete, metav1.ConditionFalse, cachev1alpha1.ReasonRolloutPaused)
		noPurgeFor(ctx, t, time.Second, 0)
		setArgoPhase(ctx, ro, "2", "Healthy")
		onePurgeOf(ctx, t, "2")
	})
})
