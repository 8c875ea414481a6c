package e2e_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/kubectl/pkg/util/podutils"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The specs of this file break something while a Purge runs: a pod's
// process, a pod that hangs, the operator, the origin, the fleet's size.
// Objects that must outlive a slow spec are images (a year's max-age), so
// no cached copy expires by itself while the spec runs.
var _ = Describe("Purging through faults", func() {
	It("completes when a pod's process is killed mid-purge: the pod restarts empty and answers the retry", func(ctx SpecContext) {
		f := newFleet(ctx, "kill", 3)
		const path = "/img/kill.svg"
		before := warm(ctx, f.pods, path)
		victim, others := f.pods[0], f.pods[1:]
		restarts := restartCount(f.pod(ctx, Default, victim.Name))

		// The victim hangs, so the Purge is in flight when it dies.
		f.pause(victim.Name)
		f.apply(ctx, purgeFile("kill-img", []string{path}))
		Eventually(func(g Gomega) {
			p := f.purge(ctx, g, "kill-img")
			g.Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
			s := podStatus(g, p, victim.Name)
			g.Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgePending))
			g.Expect(s.Attempts).To(BeNumerically(">=", 1), "the call to the hung pod failed and waits for a retry")
			for _, o := range others {
				g.Expect(podStatus(g, p, o.Name).Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
			}
		}).WithContext(ctx).Should(Succeed())

		Expect(cluster.KillPod(f.ns, victim.Name)).To(Succeed())
		// The kubelet restarts the container at once, on the same pod IP:
		// the pod is not Gone, its new process has an empty cache, and the
		// next retry reaches it.
		p := f.waitPurge(ctx, "kill-img", cachev1alpha1.PurgeConditionComplete)
		Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeComplete))
		Expect(p.Status.Progress).To(Equal("3/3"))
		s := podStatus(Default, p, victim.Name)
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
		Expect(s.Attempts).To(BeNumerically(">=", 2))
		Expect(s.Matched).To(BeZero(), "the restarted process had nothing cached")
		for _, o := range others {
			s := podStatus(Default, p, o.Name)
			Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded), o.Name)
			Expect(s.Attempts).To(BeEquivalentTo(1), o.Name)
			Expect(s.Matched).To(BeEquivalentTo(1), o.Name)
		}
		Eventually(func(g Gomega) {
			pod := f.pod(ctx, g, victim.Name)
			g.Expect(restartCount(pod)).To(BeNumerically(">", restarts))
			g.Expect(podutils.IsPodReady(pod)).To(BeTrue())
		}).WithContext(ctx).Should(Succeed())
		for _, pod := range f.pods {
			expectMiss(ctx, pod, path, before)
		}
	})

	It("gives up on a hung pod at the deadline: Failed naming it, the other pods Succeeded", func(ctx SpecContext) {
		f := newFleet(ctx, "hung", 3)
		const path = "/img/hung.svg"
		before := warm(ctx, f.pods, path)
		hung, others := f.pods[1], []corev1.Pod{f.pods[0], f.pods[2]}

		Expect(cluster.ServiceBackends(f.ns, "edge", 8080)).To(ContainElement(podAddr(hung)))
		f.pause(hung.Name)
		f.apply(ctx, purgeFile("hung-img", []string{path}, "deadlineSeconds: 10"))
		p := f.waitPurge(ctx, "hung-img", cachev1alpha1.PurgeConditionFailed)
		Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeFailed))
		Expect(p.Status.Progress).To(Equal("2/3"))
		Expect(p.Status.FailedPods).To(BeEquivalentTo(1))
		Expect(p.Status.SucceededPods).To(BeEquivalentTo(2))
		s := podStatus(Default, p, hung.Name)
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeFailed))
		Expect(s.Attempts).To(BeNumerically(">=", 2), "the hung pod was retried")
		Expect(s.LastError).To(HavePrefix("deadline exceeded after"))
		for _, o := range others {
			s := podStatus(Default, p, o.Name)
			Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded), o.Name)
			Expect(s.Attempts).To(BeEquivalentTo(1), o.Name)
		}
		failed := meta.FindStatusCondition(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed)
		Expect(failed.Reason).To(Equal(cachev1alpha1.ReasonDeadlineExceeded))
		Expect(failed.Message).To(HavePrefix("1 of 3 target pods failed: " + hung.Name + " (deadline exceeded"))
		Expect(meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete)).To(BeFalse())
		Eventually(func(g Gomega) {
			out, err := f.kubectl(ctx, "", "describe", "purge", "hung-img")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(MatchRegexp(`Warning\s+DeadlineExceeded\s.*1 of 3 target pods failed: ` + hung.Name))
		}).WithContext(ctx).Should(Succeed())
		Expect(f.mustKubectl(ctx, "", "get", "pg", "hung-img")).To(MatchRegexp(`(?m)^hung-img\s+edge\s+simple\s+2/3\s+Failed\s`))
		// Users are not sent to the hung pod: it failed its readiness probe.
		Eventually(func() []string { return cluster.ServiceBackends(f.ns, "edge", 8080) }).
			WithContext(ctx).ShouldNot(ContainElement(podAddr(hung)))
		for _, o := range others {
			expectMiss(ctx, o, path, before)
		}

		Expect(cluster.ResumePod(f.ns, hung.Name)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(podutils.IsPodReady(f.pod(ctx, g, hung.Name))).To(BeTrue())
		}).WithContext(ctx).Should(Succeed())
		// The Purge gave this pod up, so it cannot say what the pod holds:
		// the calls that timed out were still queued in the frozen
		// process's sockets and may have been applied once it resumed. The
		// pod serves either way.
		r := mustGet(ctx, podAddr(hung), path)
		Expect(r.Status).To(Equal(http.StatusOK))
		outcome := "still its old copy (hit)"
		if r.Version != before[hung.Name][path] {
			outcome = "a new copy: it applied the queued call after resuming"
		}
		AddReportEntry("hung pod after resume", outcome+": "+r.String())
	})

	It("resumes a Purge after the manager's container is killed mid-purge, without calling again the pods that succeeded", func(ctx SpecContext) {
		resumesThroughManagerFault(ctx, "manager-kill", func(ctx SpecContext, old *corev1.Pod) {
			// SIGKILL in its cgroup, as a crash or the OOM killer: no clean
			// shutdown, no Lease released. The kubelet restarts the
			// container in the same pod, and the new process leads once the
			// old Lease expires.
			restarts := restartCount(old)
			Expect(cluster.KillPod(operatorNamespace, old.Name)).To(Succeed())
			Eventually(func(g Gomega) {
				p := operatorPod(ctx, g)
				g.Expect(p.Name).To(Equal(old.Name))
				g.Expect(restartCount(p)).To(BeNumerically(">", restarts))
			}).WithContext(ctx).Should(Succeed(), "the kubelet restarted the manager's container")
		})
	})

	It("resumes a Purge after the manager's pod is deleted mid-purge: the new pod leads and finishes it", func(ctx SpecContext) {
		resumesThroughManagerFault(ctx, "manager-delete", func(ctx SpecContext, old *corev1.Pod) {
			// As a node drain or kubectl delete does: SIGTERM, the old
			// manager releases its Lease, the ReplicaSet makes a new pod.
			mustKubectl(ctx, "", "delete", "pod", old.Name, "-n", operatorNamespace, "--wait=false")
			Eventually(func(g Gomega) {
				g.Expect(operatorPod(ctx, g).Name).NotTo(Equal(old.Name))
			}).WithContext(ctx).Should(Succeed(), "the ReplicaSet made a new manager pod")
		})
	})

	It("serves the stale copy, not an error, when the origin is down after a soft purge", func(ctx SpecContext) {
		f := newFleet(ctx, "soft-origin-down", 3)
		const path = "/products/8"
		before := warm(ctx, f.pods, path)
		f.origin.down(ctx) // connections refused, as when the origin crashed

		f.apply(ctx, purgeFile("product-8-soft", []string{path}, "mode: soft"))
		p := f.waitPurge(ctx, "product-8-soft", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)

		stale := map[int]bool{}
		for _, pod := range f.pods {
			// Twice: the first request's background refresh fails, and the
			// copy is still served.
			for range 2 {
				r := mustGet(ctx, podAddr(pod), path)
				Expect(r.Status).To(Equal(http.StatusOK), pod.Name)
				Expect(r.Version).To(Equal(before[pod.Name][path]), "%s serves its stale copy", pod.Name)
				Expect(r.Body).To(ContainSubstring("version"), pod.Name)
				Expect(r.CacheStatus).To(ContainSubstring(csStale), pod.Name)
			}
			stale[before[pod.Name][path]] = true
		}
		f.expectServiceServes(ctx, path, stale, csStale)

		// Back up, with new content: the next requests refresh every pod.
		f.origin.back(ctx)
		f.origin.edit(ctx, path)
		for _, pod := range f.pods {
			Eventually(func(g Gomega) {
				r, err := get(ctx, podAddr(pod), path)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(r.CacheStatus).To(HavePrefix(csHit))
				g.Expect(r.Version).To(BeNumerically(">", before[pod.Name][path]))
			}).WithContext(ctx).Should(Succeed(), "%s refreshed once the origin recovered", pod.Name)
		}
	})

	It("serves an error, never the purged content, when the origin is down after a simple purge", func(ctx SpecContext) {
		f := newFleet(ctx, "simple-origin-down", 3)
		const path = "/products/9"
		before := warm(ctx, f.pods, path)
		f.origin.fail(ctx)

		f.apply(ctx, purgeFile("product-9", []string{path}))
		p := f.waitPurge(ctx, "product-9", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)

		addrs := []string{f.serviceAddress(ctx)}
		for _, pod := range f.pods {
			addrs = append(addrs, podAddr(pod))
		}
		// The origin answers 503, then is taken off the network (connections
		// refused, which the proxy answers with 502): an error both times,
		// never the purged copy.
		expectErrors := func(want int) {
			GinkgoHelper()
			for _, addr := range addrs {
				r := getAnswered(ctx, addr, path)
				Expect(r.Status).To(Equal(want), addr)
				Expect(r.CacheStatus).To(ContainSubstring(csMiss), addr)
				Expect(r.CacheStatus).NotTo(ContainSubstring(csStale), addr)
				Expect(r.Version).To(BeZero(), "%s: no cached copy", addr)
				Expect(r.Body).NotTo(ContainSubstring("version"), addr)
			}
		}
		expectErrors(http.StatusServiceUnavailable)
		f.origin.down(ctx)
		expectErrors(http.StatusBadGateway)

		f.origin.back(ctx)
		f.origin.recover(ctx)
		for _, pod := range f.pods {
			expectMiss(ctx, pod, path, before)
		}
	})

	It("purges the pods that exist when each Purge starts while the fleet scales from 3 to 5 and back", func(ctx SpecContext) {
		f := newFleet(ctx, "scale", 3)
		const path = "/img/scale.svg"
		urls := []string{path}
		original := f.pods
		warm(ctx, original, path)

		// A hung pod keeps the first Purges running while the fleet scales.
		hung := original[0]
		f.pause(hung.Name)
		f.apply(ctx, purgeFile("before-up", urls))
		Eventually(func(g Gomega) {
			p := f.purge(ctx, g, "before-up")
			g.Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
			g.Expect(podStatus(g, p, hung.Name).Attempts).To(BeNumerically(">=", 1))
		}).WithContext(ctx).Should(Succeed())

		f.mustKubectl(ctx, "", "scale", "cacheproxy/edge", "--replicas=5")
		f.apply(ctx, purgeFile("racing-up", urls))
		var grown []corev1.Pod
		Eventually(func(g Gomega) {
			grown = f.livePods(ctx, g)
			g.Expect(grown).To(HaveLen(5))
			for _, p := range grown {
				if p.Name != hung.Name {
					g.Expect(podutils.IsPodReady(&p)).To(BeTrue(), p.Name)
				}
			}
		}).WithContext(ctx).Should(Succeed())
		f.apply(ctx, purgeFile("at-five", urls))
		Eventually(func(g Gomega) {
			p := f.purge(ctx, g, "at-five")
			g.Expect(targetNames(p)).To(ConsistOf(names(grown)))
			for _, pod := range grown {
				if pod.Name != hung.Name {
					g.Expect(podStatus(g, p, pod.Name).Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
				}
			}
		}).WithContext(ctx).Should(Succeed())
		Expect(targetNames(f.purge(ctx, Default, "before-up"))).To(ConsistOf(names(original)),
			"pods that appeared after a Purge started are not its targets")

		// The ReplicaSet removes unready pods first: the hung one goes.
		Eventually(func(g Gomega) {
			g.Expect(podutils.IsPodReady(f.pod(ctx, g, hung.Name))).To(BeFalse())
		}).WithContext(ctx).Should(Succeed())
		f.mustKubectl(ctx, "", "scale", "cacheproxy/edge", "--replicas=3")
		f.apply(ctx, purgeFile("racing-down", urls))
		Eventually(func(g Gomega) {
			g.Expect(f.pod(ctx, g, hung.Name).DeletionTimestamp).NotTo(BeNil())
		}).WithContext(ctx).Should(Succeed())
		// Frozen, it would use its whole 30s grace period; the kubelet kills
		// it then. Kill it now.
		Expect(cluster.KillPod(f.ns, hung.Name)).To(Succeed())

		shrunk := f.waitReady(ctx, 3)
		Expect(names(shrunk)).NotTo(ContainElement(hung.Name))
		f.apply(ctx, purgeFile("after-down", urls))

		for _, name := range []string{"before-up", "racing-up", "at-five", "racing-down", "after-down"} {
			p := f.waitPurge(ctx, name, cachev1alpha1.PurgeConditionComplete)
			Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeComplete), name)
			for _, s := range p.Status.Pods {
				Expect(s.Phase).To(BeElementOf(cachev1alpha1.PodPurgeSucceeded, cachev1alpha1.PodPurgeGone), "%s on %s", name, s.Name)
				Expect(names(grown)).To(ContainElement(s.Name), "%s targets only pods that existed", name)
				if s.Name == hung.Name {
					Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeGone), "%s: the hung pod was deleted before it answered", name)
				}
			}
		}
		before := f.purge(ctx, Default, "before-up")
		Expect(before.Status.Progress).To(Equal("3/3"))
		Expect(before.Status.GonePods).To(BeEquivalentTo(1))
		atFive := f.purge(ctx, Default, "at-five")
		Expect(atFive.Status.Progress).To(Equal("5/5"))
		Expect(atFive.Status.GonePods).To(BeEquivalentTo(1))
		expectAllSucceeded(f.purge(ctx, Default, "after-down"), shrunk)
		f.mustKubectl(ctx, "", "get", "purges", "-o", "wide")
	})
})

func restartCount(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// resumesThroughManagerFault runs a Purge of three pods, one of them hung so
// the Purge is in flight, does fault to the manager's pod, and checks that
// the manager that leads next finishes the Purge from its status: the
// pods that had succeeded are not called again.
func resumesThroughManagerFault(ctx SpecContext, ns string, fault func(SpecContext, *corev1.Pod)) {
	GinkgoHelper()
	f := newFleet(ctx, ns, 3)
	const path = "/img/restart.svg"
	before := warm(ctx, f.pods, path)
	slow, others := f.pods[2], f.pods[:2]

	f.pause(slow.Name)
	f.apply(ctx, purgeFile("restart-img", []string{path}))
	var mid *cachev1alpha1.Purge
	Eventually(func(g Gomega) {
		mid = f.purge(ctx, g, "restart-img")
		g.Expect(mid.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
		g.Expect(podStatus(g, mid, slow.Name).Attempts).To(BeNumerically(">=", 1))
		for _, o := range others {
			g.Expect(podStatus(g, mid, o.Name).Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
		}
	}).WithContext(ctx).Should(Succeed())

	old := operatorPod(ctx, Default)
	holder := leaseHolder(ctx, Default)
	Expect(holder).To(HavePrefix(old.Name+"_"), "the manager pod leads")
	began := time.Now()
	fault(ctx, old)
	Eventually(func(g Gomega) {
		p := operatorPod(ctx, g)
		g.Expect(podutils.IsPodReady(p)).To(BeTrue())
		now := leaseHolder(ctx, g)
		g.Expect(now).NotTo(Equal(holder), "a new manager process holds the Lease")
		g.Expect(now).To(HavePrefix(p.Name + "_"))
	}).WithContext(ctx).WithTimeout(2*time.Minute).Should(Succeed(), "a new manager leads")
	AddReportEntry("fault to a new leading manager", time.Since(began).Round(time.Millisecond).String())
	Expect(cluster.ResumePod(f.ns, slow.Name)).To(Succeed())

	p := f.waitPurge(ctx, "restart-img", cachev1alpha1.PurgeConditionComplete)
	Expect(p.Status.Progress).To(Equal("3/3"))
	Expect(p.Status.StartTime).To(Equal(mid.Status.StartTime), "the Purge went on, it did not start over")
	for _, o := range others {
		s, was := podStatus(Default, p, o.Name), podStatus(Default, mid, o.Name)
		Expect(s.Attempts).To(BeEquivalentTo(1), "%s was not called again", o.Name)
		Expect(s.LastAttemptTime).To(Equal(was.LastAttemptTime), "%s was not called again", o.Name)
	}
	s := podStatus(Default, p, slow.Name)
	Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
	Expect(s.Attempts).To(BeNumerically(">", podStatus(Default, mid, slow.Name).Attempts))
	// Frozen that long, the slow pod may have failed its liveness probe
	// and been restarted (empty, which is a miss too): wait until it
	// serves again.
	Eventually(func(g Gomega) {
		g.Expect(podutils.IsPodReady(f.pod(ctx, g, slow.Name))).To(BeTrue())
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	for _, pod := range f.pods {
		expectMiss(ctx, pod, path, before)
	}
}
