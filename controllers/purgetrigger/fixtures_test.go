package purgetrigger_test

import (
	"context"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/purgetrigger"
)

func newNamespace(ctx context.Context) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "trigger-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// rollout is a Deployment whose rollouts a spec drives by hand, writing
// what the Deployment controller would: the revision annotation with the
// new template, then the status as replicas are updated and become
// available.
type rollout struct {
	d *appsv1.Deployment
}

// newDeployment creates a Deployment of replicas pods and completes its
// first rollout (revision 1).
func newDeployment(ctx context.Context, ns, name string, replicas int32) *rollout {
	GinkgoHelper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:v1"}}},
			},
		},
	}
	Expect(k8sClient.Create(ctx, d)).To(Succeed())
	r := &rollout{d: d}
	r.progress(ctx, replicas, replicas, replicas)
	return r
}

// deploy changes the pod template to image, as `kubectl set image` would,
// and records revision as the Deployment controller would; no pod is
// updated yet.
func (r *rollout) deploy(ctx context.Context, image string, revision int) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r.d), r.d)).To(Succeed())
	r.d.Spec.Template.Spec.Containers[0].Image = image
	r.d.Annotations["deployment.kubernetes.io/revision"] = strconv.Itoa(revision)
	Expect(k8sClient.Update(ctx, r.d)).To(Succeed())
	replicas := *r.d.Spec.Replicas
	r.progress(ctx, replicas+1, 1, replicas)
}

// progress writes the Deployment's status: total pods, of which updated
// run the new template, and available pods overall; the spec is observed.
func (r *rollout) progress(ctx context.Context, total, updated, available int32) {
	GinkgoHelper()
	r.setStatus(ctx, func(s *appsv1.DeploymentStatus) {
		s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas = total, updated, available, available
	})
}

// complete finishes the rollout: every pod updated and available, the old
// ones gone. It returns when it wrote that, truncated to the second as the
// API server's timestamps are.
func (r *rollout) complete(ctx context.Context) metav1.Time {
	GinkgoHelper()
	at := metav1.Now().Rfc3339Copy()
	n := *r.d.Spec.Replicas
	r.progress(ctx, n, n, n)
	return at
}

// exceedDeadline marks the rollout failed, as the Deployment controller
// does after progressDeadlineSeconds.
func (r *rollout) exceedDeadline(ctx context.Context) {
	GinkgoHelper()
	r.setStatus(ctx, func(s *appsv1.DeploymentStatus) {
		s.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: `ReplicaSet "web-v2" has timed out progressing.`,
		}}
	})
}

func (r *rollout) setStatus(ctx context.Context, mutate func(*appsv1.DeploymentStatus)) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r.d), r.d)).To(Succeed())
		r.d.Status.ObservedGeneration = r.d.Generation
		mutate(&r.d.Status)
		g.Expect(k8sClient.Status().Update(ctx, r.d)).To(Succeed())
	}).Should(Succeed())
}

// newTrigger creates a trigger that purges CacheProxy edge after each
// rollout of the named workload.
func newTrigger(ctx context.Context, ns, name string, kind cachev1alpha1.WorkloadKind, workload string) *cachev1alpha1.PurgeTrigger {
	GinkgoHelper()
	t := &cachev1alpha1.PurgeTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cachev1alpha1.PurgeTriggerSpec{
			WorkloadRef: cachev1alpha1.WorkloadReference{Kind: kind, Name: workload},
			PurgeTemplate: cachev1alpha1.PurgeTemplate{
				Metadata: cachev1alpha1.PurgeTemplateMetadata{Labels: map[string]string{"team": "web"}},
				Spec: cachev1alpha1.PurgeSpec{
					CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
					Mode:          cachev1alpha1.PurgeModeSoft,
					URLs:          []string{"https://www.example.com/", "https://www.example.com/app.js"},
				},
			},
		},
	}
	Expect(k8sClient.Create(ctx, t)).To(Succeed())
	return t
}

// triggerState waits until the trigger has looked at the workload's
// current state (observed revision), and returns it.
func triggerState(ctx context.Context, t *cachev1alpha1.PurgeTrigger, revision string) *cachev1alpha1.PurgeTrigger {
	GinkgoHelper()
	got := &cachev1alpha1.PurgeTrigger{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), got)).To(Succeed())
		g.Expect(got.Status.ObservedRevision).To(Equal(revision))
	}).Should(Succeed())
	return got
}

// purgedState waits for the trigger's status to record a Purge of
// revision, and returns the trigger. The controller creates the Purge
// first and writes its status after, so a spec that has seen the Purge
// waits here before it reads the status.
func purgedState(ctx context.Context, t *cachev1alpha1.PurgeTrigger, revision string) *cachev1alpha1.PurgeTrigger {
	GinkgoHelper()
	got := &cachev1alpha1.PurgeTrigger{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), got)).To(Succeed())
		g.Expect(got.Status.PurgedRevision).To(Equal(revision))
	}).Should(Succeed())
	return got
}

// condition waits for the trigger's condition to have status and reason,
// and a message containing each of messages, and returns it.
func condition(ctx context.Context, t *cachev1alpha1.PurgeTrigger, typ string, status metav1.ConditionStatus, reason string, messages ...string) *metav1.Condition {
	GinkgoHelper()
	var c *metav1.Condition
	Eventually(func(g Gomega) {
		var got cachev1alpha1.PurgeTrigger
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), &got)).To(Succeed())
		c = meta.FindStatusCondition(got.Status.Conditions, typ)
		g.Expect(c).NotTo(BeNil(), "conditions: %+v", got.Status.Conditions)
		g.Expect(c.Status).To(Equal(status), "%+v", c)
		g.Expect(c.Reason).To(Equal(reason), "%+v", c)
		for _, m := range messages {
			g.Expect(c.Message).To(ContainSubstring(m))
		}
	}).Should(Succeed())
	return c
}

// purgesOf lists the Purges the trigger created.
func purgesOf(ctx context.Context, t *cachev1alpha1.PurgeTrigger) []cachev1alpha1.Purge {
	GinkgoHelper()
	var l cachev1alpha1.PurgeList
	Expect(k8sClient.List(ctx, &l, client.InNamespace(t.Namespace),
		client.MatchingLabels{cachev1alpha1.LabelPurgeTrigger: t.Name})).To(Succeed())
	return l.Items
}

// onePurge waits for the trigger's Purges to be exactly one, of revision.
func onePurgeOf(ctx context.Context, t *cachev1alpha1.PurgeTrigger, revision string) cachev1alpha1.Purge {
	GinkgoHelper()
	return nthPurge(ctx, t, 1, revision)
}

// nthPurge waits for the trigger to have created n Purges, the newest of
// revision, and returns that one.
func nthPurge(ctx context.Context, t *cachev1alpha1.PurgeTrigger, n int, revision string) cachev1alpha1.Purge {
	GinkgoHelper()
	var newest cachev1alpha1.Purge
	Eventually(func(g Gomega) {
		purges := purgesOf(ctx, t)
		g.Expect(purges).To(HaveLen(n))
		found := false
		for _, p := range purges {
			if p.Annotations[cachev1alpha1.AnnotationWorkloadRevision] == revision {
				newest, found = p, true
			}
		}
		g.Expect(found).To(BeTrue(), "no Purge of revision %s among %d", revision, len(purges))
	}).Should(Succeed())
	return newest
}

// finish writes a Purge's result as the Purge controller would.
func finish(ctx context.Context, p *cachev1alpha1.Purge, phase cachev1alpha1.PurgePhase) {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	now := metav1.Now()
	p.Status.Phase = phase
	p.Status.Progress = "3/3"
	p.Status.ObjectsInvalidated = 42
	p.Status.StartTime, p.Status.CompletionTime = &now, &now
	Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
}

// eventReasons lists the reasons of the events about the trigger.
func eventReasons(ctx context.Context, t *cachev1alpha1.PurgeTrigger) []string {
	GinkgoHelper()
	var l eventsv1.EventList
	Expect(k8sClient.List(ctx, &l, client.InNamespace(t.Namespace))).To(Succeed())
	var reasons []string
	for _, e := range l.Items {
		if e.Regarding.Kind == "PurgeTrigger" && e.Regarding.Name == t.Name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// noPurgeFor asserts the trigger creates no Purge for a while.
func noPurgeFor(ctx context.Context, t *cachev1alpha1.PurgeTrigger, d time.Duration, count int) {
	GinkgoHelper()
	Consistently(func() []cachev1alpha1.Purge { return purgesOf(ctx, t) }).WithTimeout(d).Should(HaveLen(count))
}

func apierrorsIsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// onePurgeAfterCompletingWithoutManager completes the rollout while no
// manager runs and creates the Purge as a pass would have just before
// dying, without recording it in the trigger's status. It returns its name.
func onePurgeAfterCompletingWithoutManager(ctx context.Context, r *rollout, t *cachev1alpha1.PurgeTrigger) string {
	GinkgoHelper()
	r.complete(ctx)
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(t), t)).To(Succeed())
	p := purgetrigger.PurgeFor(t, 2, r.d.UID)
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	Expect(t.Status.PurgedRevision).NotTo(Equal("2"))
	return p.Name
}

func podTemplate(labels map[string]string, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

// setStatefulSet writes what the StatefulSet controller would: the
// ControllerRevision updateRevision numbered revision, and a status with
// updated of the 2 ready pods at updateRevision.
func setStatefulSet(ctx context.Context, s *appsv1.StatefulSet, updateRevision string, revision int64, currentRevision string, updated int32) {
	GinkgoHelper()
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: updateRevision, Namespace: s.Namespace},
		Data:       runtime.RawExtension{Raw: []byte(`{}`)},
		Revision:   revision,
	}
	if err := k8sClient.Create(ctx, cr); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		s.Status = appsv1.StatefulSetStatus{
			ObservedGeneration: s.Generation, Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
			UpdatedReplicas: updated, CurrentReplicas: 2 - updated,
			UpdateRevision: updateRevision, CurrentRevision: currentRevision,
		}
		g.Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
	}).Should(Succeed())
}

// newRollout creates an Argo Rollout at revision 1, once the API server
// serves the kind (its CRD may have just been installed).
func newRollout(ctx context.Context, ns, name string) *unstructured.Unstructured {
	GinkgoHelper()
	ro := &unstructured.Unstructured{}
	ro.SetAPIVersion("argoproj.io/v1alpha1")
	ro.SetKind("Rollout")
	ro.SetName(name)
	ro.SetNamespace(ns)
	ro.SetAnnotations(map[string]string{"rollout.argoproj.io/revision": "1"})
	Eventually(func() error { return k8sClient.Create(ctx, ro) }).Should(Succeed())
	return ro
}

// setArgoPhase writes what a user and the Argo Rollouts controller would:
// a new revision changes the spec (so the generation moves on, not yet
// observed) and gets its annotation; then the phase is written with the
// generation observed.
func setArgoPhase(ctx context.Context, ro *unstructured.Unstructured, revision, phase string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ro), ro)).To(Succeed())
		if ro.GetAnnotations()["rollout.argoproj.io/revision"] != revision {
			g.Expect(unstructured.SetNestedField(ro.Object, "web:v"+revision, "spec", "image")).To(Succeed())
			ro.SetAnnotations(map[string]string{"rollout.argoproj.io/revision": revision})
			g.Expect(k8sClient.Update(ctx, ro)).To(Succeed())
		}
		g.Expect(unstructured.SetNestedField(ro.Object, strconv.FormatInt(ro.GetGeneration(), 10), "status", "observedGeneration")).To(Succeed())
		g.Expect(unstructured.SetNestedField(ro.Object, phase, "status", "phase")).To(Succeed())
		g.Expect(k8sClient.Status().Update(ctx, ro)).To(Succeed())
	}).Should(Succeed())
}
