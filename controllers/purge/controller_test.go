package purge_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

// podsIn returns a Purge's per-pod entries by pod name.
func podsIn(p *cachev1alpha1.Purge) map[string]cachev1alpha1.PodPurgeStatus {
	m := map[string]cachev1alpha1.PodPurgeStatus{}
	for _, s := range p.Status.Pods {
		m[s.Name] = s
	}
	return m
}

// expectEveryPod asserts each pod of f succeeded with the given counts.
func expectEveryPod(p *cachev1alpha1.Purge, f *fleet, invalidated, refetched int64) {
	GinkgoHelper()
	Expect(p.Status.TargetPods).To(Equal(int32(len(f.pods))))
	Expect(p.Status.SucceededPods).To(Equal(int32(len(f.pods))))
	Expect(p.Status.Progress).To(Equal(fmt.Sprintf("%d/%d", len(f.pods), len(f.pods))))
	pods := podsIn(p)
	for _, pp := range f.pods {
		s := pods[pp.name]
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded), pp.name)
		Expect(s.IP).To(Equal(pp.ip))
		Expect(s.Attempts).To(Equal(int32(1)), pp.name)
		Expect(s.Invalidated).To(Equal(invalidated), pp.name)
		Expect(s.Refetched).To(Equal(refetched), pp.name)
	}
	Expect(p.Status.ObjectsInvalidated).To(Equal(invalidated * int64(len(f.pods))))
	Expect(p.Status.ObjectsRefetched).To(Equal(refetched * int64(len(f.pods))))
	Expect(meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete)).To(BeTrue())
	Expect(meta.IsStatusConditionFalse(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed)).To(BeTrue())
	Expect(p.Status.StartTime).NotTo(BeNil())
	Expect(p.Status.CompletionTime).NotTo(BeNil())
}

var _ = Describe("The Purge controller", func() {
	It("purges URLs on every pod with a simple purge", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		f.warm("/app.js", "/app.js?v=2", "/other.js")

		p := f.purge(ctx, "simple", cachev1alpha1.PurgeSpec{
			Mode: cachev1alpha1.PurgeModeSimple,
			URLs: []string{"https://" + testHost + "/app.js", "https://" + testHost + "/app.js?v=2"},
		})
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		expectEveryPod(done, f, 2, 0)

		for i, pp := range f.pods {
			body, status := pp.get("/app.js")
			Expect(status).To(ContainSubstring("fwd=uri-miss"), pp.name)
			// Each pod fetched once to warm and once after the purge.
			Expect(body).To(ContainSubstring(fmt.Sprintf("version %d", len(f.pods)+i+1)))
			_, status = pp.get("/other.js")
			Expect(status).To(HavePrefix("cacheproxy; hit"), "an unpurged URL stays cached")
		}
	})

	It("purges only the pods spec.podNames names, when set", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		f.warm("/app.js")

		p := f.purge(ctx, "retry", cachev1alpha1.PurgeSpec{
			URLs:     []string{"https://" + testHost + "/app.js"},
			PodNames: []string{f.pods[1].name, "edge-gone-long-ago"},
		})
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(done.Status.Progress).To(Equal("1/1"), "only the named pod that exists")
		Expect(done.Status.Pods).To(HaveLen(1))
		Expect(done.Status.Pods[0].Name).To(Equal(f.pods[1].name))
		Expect(done.Status.Pods[0].Invalidated).To(Equal(int64(1)))
		_, status := f.pods[1].get("/app.js")
		Expect(status).To(ContainSubstring("fwd=uri-miss"))
		for _, pp := range []*podProxy{f.pods[0], f.pods[2]} {
			_, status := pp.get("/app.js")
			Expect(status).To(HavePrefix("cacheproxy; hit"), "%s was not named", pp.name)
		}
	})

	It("serves the stale copy at once after a soft purge, and refreshes it", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		f.warm("/home")
		p := f.purge(ctx, "soft", cachev1alpha1.PurgeSpec{
			Mode: cachev1alpha1.PurgeModeSoft,
			URLs: []string{"http://" + testHost + "/home"},
		})
		expectEveryPod(waitFor(ctx, p, cachev1alpha1.PurgeComplete), f, 1, 0)

		f.origin.down.Store(true)
		for _, pp := range f.pods {
			body, status := pp.get("/home")
			Expect(status).To(ContainSubstring("fwd=stale"), pp.name)
			Expect(body).To(ContainSubstring("/home version"), "the stale copy, not the origin's error")
		}
		f.origin.down.Store(false)
		for _, pp := range f.pods {
			Eventually(func() string { _, s := pp.get("/home"); return s }).Should(HavePrefix("cacheproxy; hit"))
		}
		Expect(f.origin.fetches("/home")).To(BeNumerically(">", len(f.pods)), "each pod refreshed in the background")
	})

	It("invalidates a URL prefix with a ban and leaves other prefixes cached", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		f.warm("/img/a.png", "/img/b/c.png", "/css/site.css")
		p := f.purge(ctx, "ban", cachev1alpha1.PurgeSpec{
			Mode: cachev1alpha1.PurgeModeBan,
			URLs: []string{"http://" + testHost + "/img/"},
		})
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(done.Status.SucceededPods).To(Equal(int32(3)))
		for _, pp := range f.pods {
			Expect(podsIn(done)[pp.name].Matched).To(Equal(int64(2)), pp.name)
			_, status := pp.get("/img/a.png")
			Expect(status).NotTo(HavePrefix("cacheproxy; hit"))
			_, status = pp.get("/img/b/c.png")
			Expect(status).NotTo(HavePrefix("cacheproxy; hit"))
			_, status = pp.get("/css/site.css")
			Expect(status).To(HavePrefix("cacheproxy; hit"))
		}
	})

	It("purges exactly the objects carrying a tag", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		f.warm("/products/42", "/products/42/reviews", "/products/7")
		p := f.purge(ctx, "tag", cachev1alpha1.PurgeSpec{Tags: []string{"product-42"}})
		expectEveryPod(waitFor(ctx, p, cachev1alpha1.PurgeComplete), f, 2, 0)
		for _, pp := range f.pods {
			_, status := pp.get("/products/42")
			Expect(status).To(ContainSubstring("fwd=uri-miss"))
			_, status = pp.get("/products/42/reviews")
			Expect(status).To(ContainSubstring("fwd=uri-miss"))
			_, status = pp.get("/products/7")
			Expect(status).To(HavePrefix("cacheproxy; hit"))
		}
	})

	It("leaves every pod holding the fresh copy after a refetch", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		f.warm("/prices.json")
		Expect(f.origin.fetches("/prices.json")).To(Equal(3))
		p := f.purge(ctx, "refetch", cachev1alpha1.PurgeSpec{
			URLs:    []string{"https://" + testHost + "/prices.json"},
			Refetch: true,
		})
		expectEveryPod(waitFor(ctx, p, cachev1alpha1.PurgeComplete), f, 1, 1)
		Expect(f.origin.fetches("/prices.json")).To(Equal(6), "one refetch per pod")
		for _, pp := range f.pods {
			body, status := pp.get("/prices.json")
			Expect(status).To(HavePrefix("cacheproxy; hit"), "no user pays the miss")
			Expect(body).To(MatchRegexp(`version [456]$`))
		}
	})

	It("counts and changes nothing on a dry run", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		f.warm("/a", "/b")
		p := f.purge(ctx, "dry", cachev1alpha1.PurgeSpec{
			Mode: cachev1alpha1.PurgeModeBan, DryRun: true, ConfirmHostRootBan: true,
			URLs: []string{"http://" + testHost + "/"},
		})
		fetched := f.origin.fetches("/a") + f.origin.fetches("/b")
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(done.Status.ObjectsMatched).To(Equal(int64(4)))
		Expect(done.Status.ObjectsInvalidated).To(BeZero())
		By("serving the very first request after it from the cache, on every pod")
		f.expectHits("/a", "/b")
		Expect(f.origin.fetches("/a")+f.origin.fetches("/b")).To(Equal(fetched), "the origin was asked again")
	})

	It("retries a pod whose proxy is down and fails it by the deadline, naming it, while the others succeed", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		down := f.pods[1]
		down.stop()
		p := f.purge(ctx, "down", cachev1alpha1.PurgeSpec{
			URLs: []string{"https://" + testHost + "/a"}, DeadlineSeconds: 4,
		})
		// A pass writes what has finished after ProgressInterval, so the
		// first Running status may show fewer than the two healthy pods.
		Eventually(func(g Gomega) {
			got := &cachev1alpha1.Purge{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			if got.Status.Phase == cachev1alpha1.PurgeFailed {
				StopTrying("the Purge failed before it was seen Running with 2/3").Now()
			}
			g.Expect(got.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
			g.Expect(got.Status.Progress).To(Equal("2/3"))
		}).Should(Succeed())

		failed := waitFor(ctx, p, cachev1alpha1.PurgeFailed)
		pods := podsIn(failed)
		Expect(pods[down.name].Phase).To(Equal(cachev1alpha1.PodPurgeFailed))
		Expect(pods[down.name].Attempts).To(BeNumerically(">=", 3), "retried with backoff")
		Expect(pods[down.name].LastError).To(ContainSubstring("deadline exceeded"))
		Expect(pods[down.name].LastError).To(ContainSubstring("connection refused"))
		Expect(calls.callsTo(down.endpoint())).To(Equal(int(pods[down.name].Attempts)))
		for _, pp := range []*podProxy{f.pods[0], f.pods[2]} {
			Expect(pods[pp.name].Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
			Expect(calls.callsTo(pp.endpoint())).To(Equal(1))
		}
		Expect(failed.Status.FailedPods).To(Equal(int32(1)))
		cond := meta.FindStatusCondition(failed.Status.Conditions, cachev1alpha1.PurgeConditionFailed)
		Expect(cond.Status).To(Equal(metav1.ConditionTrue))
		Expect(cond.Reason).To(Equal(cachev1alpha1.ReasonDeadlineExceeded))
		Expect(cond.Message).To(ContainSubstring(down.name))
		Expect(meta.IsStatusConditionTrue(failed.Status.Conditions, cachev1alpha1.PurgeConditionComplete)).To(BeFalse())
		Expect(failed.Status.CompletionTime).NotTo(BeNil())
		expectEvent(failed, cachev1alpha1.ReasonDeadlineExceeded, down.name)
	})

	It("records the answers of the others while a pod hangs, then fails the hung one", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		hung := f.pods[0]
		hung.hang()
		p := f.purge(ctx, "hung", cachev1alpha1.PurgeSpec{
			URLs: []string{"https://" + testHost + "/a"}, DeadlineSeconds: 2,
		})
		// The call to the hung pod is still running (no attempt recorded)
		// while the status already shows the other two pods' results.
		Eventually(func(g Gomega) {
			got := &cachev1alpha1.Purge{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.SucceededPods).To(Equal(int32(2)))
			g.Expect(got.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
			g.Expect(podsIn(got)[hung.name].Attempts).To(BeZero())
		}).Should(Succeed())

		failed := waitFor(ctx, p, cachev1alpha1.PurgeFailed)
		s := podsIn(failed)[hung.name]
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeFailed))
		Expect(s.LastError).To(Equal("deadline exceeded after 1 attempts; the last call got no answer in time"))
		Expect(calls.callsTo(hung.endpoint())).To(Equal(1), "one call, cut off at the deadline")
	})

	It("marks a pod deleted before it answered Gone, and completes", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		gone := f.pods[2]
		gone.stop()
		p := f.purge(ctx, "gone", cachev1alpha1.PurgeSpec{URLs: []string{"https://" + testHost + "/a"}})
		Eventually(func(g Gomega) {
			got := &cachev1alpha1.Purge{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(podsIn(got)[gone.name].Attempts).To(BeNumerically(">=", 1))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: gone.name, Namespace: f.cp.Namespace}})).To(Succeed())

		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(podsIn(done)[gone.name].Phase).To(Equal(cachev1alpha1.PodPurgeGone))
		Expect(done.Status.GonePods).To(Equal(int32(1)))
		Expect(done.Status.SucceededPods).To(Equal(int32(2)))
		Expect(done.Status.Progress).To(Equal("3/3"))
	})

	It("reports a wrong admin token as a failure, not a success", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		wrong := f.pods[0]
		wrong.stop()
		wrong.serve(f.origin.URL, "not-the-token")
		p := f.purge(ctx, "token", cachev1alpha1.PurgeSpec{
			URLs: []string{"https://" + testHost + "/a"}, DeadlineSeconds: 2,
		})
		failed := waitFor(ctx, p, cachev1alpha1.PurgeFailed)
		s := podsIn(failed)[wrong.name]
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeFailed))
		Expect(s.LastError).To(ContainSubstring("401"))
		Expect(podsIn(failed)[f.pods[1].name].Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
	})

	It("fails a pod at once when it refuses the request itself", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		// The fleet serves www.example.com only; its pods refuse other hosts.
		p := f.purge(ctx, "other-host", cachev1alpha1.PurgeSpec{URLs: []string{"https://elsewhere.example.org/a"}})
		failed := waitFor(ctx, p, cachev1alpha1.PurgeFailed)
		for _, pp := range f.pods {
			s := podsIn(failed)[pp.name]
			Expect(s.Attempts).To(Equal(int32(1)), "no retry of a request the pod refuses")
			Expect(s.LastError).To(ContainSubstring("400"))
		}
		Expect(meta.FindStatusCondition(failed.Status.Conditions, cachev1alpha1.PurgeConditionFailed).Reason).
			To(Equal(cachev1alpha1.ReasonPodsRefused))
	})

	It("waits for a missing CacheProxy, then runs", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: ns},
			Spec: cachev1alpha1.PurgeSpec{
				CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
				URLs:          []string{"https://" + testHost + "/a"},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		pending := waitFor(ctx, p, cachev1alpha1.PurgePending)
		cond := meta.FindStatusCondition(pending.Status.Conditions, cachev1alpha1.PurgeConditionTargetResolved)
		Expect(cond).NotTo(BeNil())
		Expect(cond.Status).To(Equal(metav1.ConditionFalse))
		Expect(cond.Reason).To(Equal(cachev1alpha1.ReasonCacheProxyNotFound))
		Expect(cond.Message).To(ContainSubstring("edge"))
		Consistently(func(g Gomega) {
			got := &cachev1alpha1.Purge{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.Phase).To(Equal(cachev1alpha1.PurgePending))
		}, 500*time.Millisecond).Should(Succeed())

		// The fleet's pods exist before the CacheProxy is created, so the
		// Purge finds them the moment it resolves its target.
		f := &fleet{origin: newOrigin()}
		f.cp = &cachev1alpha1.CacheProxy{
			ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: ns},
			Spec: cachev1alpha1.CacheProxySpec{
				Replicas: ptr.To(int32(2)),
				Origin:   cachev1alpha1.OriginSpec{URL: f.origin.URL},
				Hosts:    []string{testHost},
			},
		}
		// The admin-token Secret may exist before its CacheProxy: the
		// controller uses the token in it and never overwrites it.
		f.token = "a-token-chosen-in-advance"
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fleetnames.TokenSecretName("edge"), Namespace: ns},
			Data:       map[string][]byte{fleetnames.TokenKey: []byte(f.token)},
		})).To(Succeed())
		tmpl := podTemplateOf(f.cp)
		for i := range 2 {
			pp := &podProxy{name: fmt.Sprintf("edge-early-%d", i), ip: freeIP()}
			pp.serve(f.origin.URL, f.token)
			DeferCleanup(pp.stop)
			createPod(ctx, ns, pp.name, pp.ip, tmpl)
			f.pods = append(f.pods, pp)
		}
		f.awaitListed(ctx, tmpl.Labels)
		Expect(k8sClient.Create(ctx, f.cp)).To(Succeed())
		expectEveryPod(waitFor(ctx, p, cachev1alpha1.PurgeComplete), f, 0, 0)
	})

	It("runs to its end when its CacheProxy is deleted mid-purge", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		f.pods[1].stop()
		p := f.purge(ctx, "orphan", cachev1alpha1.PurgeSpec{URLs: []string{"https://" + testHost + "/a"}})
		waitFor(ctx, p, cachev1alpha1.PurgeRunning)
		Expect(k8sClient.Delete(ctx, f.cp)).To(Succeed())
		// envtest runs no garbage collector: delete the fleet's pod as it would.
		Expect(k8sClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: f.pods[1].name, Namespace: f.cp.Namespace}})).To(Succeed())
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(podsIn(done)[f.pods[0].name].Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
		Expect(podsIn(done)[f.pods[1].name].Phase).To(Equal(cachev1alpha1.PodPurgeGone))
	})

	It("completes at once when the CacheProxy has no pod", func(ctx SpecContext) {
		f := newFleet(ctx, 0)
		p := f.purge(ctx, "empty", cachev1alpha1.PurgeSpec{URLs: []string{"https://" + testHost + "/a"}})
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(done.Status.Progress).To(Equal("0/0"))
		Expect(meta.FindStatusCondition(done.Status.Conditions, cachev1alpha1.PurgeConditionComplete).Reason).
			To(Equal(cachev1alpha1.ReasonNoTargetPods))
	})

	It("deletes a finished Purge after ttlSecondsAfterFinished", func(ctx SpecContext) {
		f := newFleet(ctx, 1)
		p := f.purge(ctx, "ttl", cachev1alpha1.PurgeSpec{
			URLs: []string{"https://" + testHost + "/a"}, TTLSecondsAfterFinished: ptr.To[int32](1),
		})
		waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &cachev1alpha1.Purge{})
		}).Should(Satisfy(func(err error) bool { return client.IgnoreNotFound(err) == nil && err != nil }))
	})

	It("records Started and Completed events", func(ctx SpecContext) {
		f := newFleet(ctx, 2)
		p := f.purge(ctx, "events", cachev1alpha1.PurgeSpec{URLs: []string{"https://" + testHost + "/a"}})
		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		expectEvent(done, "Started", "2 pods")
		expectEvent(done, "Completed", "2 pods succeeded")
	})
})

// Ordered: it stops and restarts the manager the other specs share.
var _ = Describe("A restarted manager", Ordered, func() {
	It("resumes a Purge from its status without calling succeeded pods again", func(ctx SpecContext) {
		f := newFleet(ctx, 3)
		late := f.pods[2]
		late.stop()
		p := f.purge(ctx, "resume", cachev1alpha1.PurgeSpec{URLs: []string{"https://" + testHost + "/a"}})
		Eventually(func(g Gomega) {
			got := &cachev1alpha1.Purge{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.SucceededPods).To(Equal(int32(2)))
			g.Expect(podsIn(got)[late.name].Attempts).To(BeNumerically(">=", 1))
		}).Should(Succeed())

		stopManager()
		before := []int{calls.callsTo(f.pods[0].endpoint()), calls.callsTo(f.pods[1].endpoint())}
		Expect(before).To(Equal([]int{1, 1}))
		late.serve(f.origin.URL, f.token)
		stopManager = startManager()

		done := waitFor(ctx, p, cachev1alpha1.PurgeComplete)
		Expect(podsIn(done)[late.name].Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
		Expect(calls.callsTo(f.pods[0].endpoint())).To(Equal(1), "succeeded pods are not called again")
		Expect(calls.callsTo(f.pods[1].endpoint())).To(Equal(1))
	})
})

// expectEvent waits for an event on obj with reason whose note contains text.
func expectEvent(obj client.Object, reason, text string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var events corev1.EventList
		g.Expect(k8sClient.List(context.Background(), &events, client.InNamespace(obj.GetNamespace()))).To(Succeed())
		var notes []string
		for _, e := range events.Items {
			if e.InvolvedObject.UID == obj.GetUID() && e.Reason == reason {
				notes = append(notes, e.Message)
			}
		}
		g.Expect(notes).To(ContainElement(ContainSubstring(text)))
	}).Should(Succeed())
}

// podTemplateOf is the part of the pod template the CacheProxy controller
// gives the Deployment of cp that the Purge controller reads (labels,
// admin port), built with the names both controllers share, for specs that
// need pods before the CacheProxy exists.
func podTemplateOf(cp *cachev1alpha1.CacheProxy) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: fleetnames.ObjectLabels(cp.Name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "cacheproxy",
			Image: "ghcr.io/cacheops/cacheproxy:test",
			Ports: []corev1.ContainerPort{{Name: fleetnames.AdminPortName, ContainerPort: admin.DefaultPort}},
		}}},
	}
}
