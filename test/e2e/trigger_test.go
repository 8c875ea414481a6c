package e2e_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// PurgeTriggers follow a real Deployment, "web": the demo origin's image in
// two pods behind the Service "web", with a real readiness probe, rolled
// out by the real kube-controller-manager, kubelet and containerd. The
// CacheProxy "edge" (two pods) fronts that Service, so a purge after a
// rollout is what makes users see the new release. Two triggers follow
// web: "web" (made with `kubectl purge --after-rollout`, a ban of the whole
// site) and "web-api" (applied from YAML, the API's tag).
//
// The specs run in order on the one Deployment, each a rollout: release v2
// (revision 2), a release whose pods never become ready (3), `kubectl
// rollout undo` (4), release v3 with the leader's process killed
// mid-rollout and another taking over (5),
// then web-api deleted and release v4, paused and resumed (6).
var _ = Describe("PurgeTriggers on a real Deployment", Ordered, func() {
	const (
		ns = "trigger"
		// site and api name the two triggers.
		site = "web"
		api  = "web-api"
	)
	var (
		f *fleet
		// seen records what the specs' watches saw, for the ordering checks.
		seen *timeline
	)

	BeforeAll(func(ctx SpecContext) {
		image, err := localcluster.ImageName(paths.demoOrigin)
		Expect(err).NotTo(HaveOccurred())
		createNamespace(ctx, ns)
		f = &fleet{ns: ns}
		seen = watchNamespace(ns)

		f.apply(ctx, webYAML(image))
		f.mustKubectl(ctx, "", "rollout", "status", "deployment/web", "--timeout=2m")
		var svc corev1.Service
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &svc)).To(Succeed())
		f.createCacheProxy(ctx, cacheProxyYAML("http://"+svc.Spec.ClusterIP+":8080", 2), 2)

		// `kubectl purge edge --ban https://www.example.com/ --yes --after-rollout deployment/web`
		cmd := exec.CommandContext(ctx, filepath.Join(paths.binDir, "kubectl-purge"), "--kubeconfig", cluster.KubeconfigPath(),
			"-n", ns, "edge", "--ban", "https://"+host+"/", "--yes", "--after-rollout", "deployment/web", "--name", site)
		out, err := cmd.CombinedOutput()
		GinkgoWriter.Printf("$ kubectl purge edge --ban https://%s/ --yes --after-rollout deployment/web --name %s\n%s", host, site, out)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(ContainSubstring("purgetrigger.cache.cacheops.io/" + site + " created"))
		Expect(f.apply(ctx, apiTriggerYAML)).To(ContainSubstring("purgetrigger.cache.cacheops.io/" + api + " created"))

		for _, t := range []string{site, api} {
			Eventually(func(g Gomega) {
				c := triggerCondition(ctx, g, ns, t, cachev1alpha1.PurgeTriggerConditionPurged)
				g.Expect(c.Reason).To(Equal(cachev1alpha1.ReasonRevisionPredatesTrigger), "revision 1 was there first")
			}).WithContext(ctx).Should(Succeed())
		}
		Expect(purgesByRevision(ctx, Default, ns, site)).To(BeEmpty())
	}, NodeTimeout(4*time.Minute))

	It("purges once per trigger, after the last new pod is available, and users get the new release", func(ctx SpecContext) {
		for _, p := range f.pods {
			Expect(mustGet(ctx, podAddr(p), "/").Release).To(Equal("v1"))
			Expect(mustGet(ctx, podAddr(p), "/").CacheStatus).To(HavePrefix(csHit), "%s cached release v1", p.Name)
		}

		f.mustKubectl(ctx, "", "set", "env", "deployment/web", "RELEASE=v2")
		f.mustKubectl(ctx, "", "rollout", "status", "deployment/web", "--timeout=2m")
		ps := exactlyOnePurgeEach(ctx, ns, "2", site, api)

		// The order, three ways. Kubernetes' timestamps have whole seconds,
		// so they only show the Purge is not from an earlier second than the
		// last new pod's Ready transition.
		pods := seen.readyPods(ctx, "2")
		Expect(pods).To(HaveLen(2), "both pods of revision 2 became ready")
		complete := seen.rolloutComplete("2")
		Expect(complete).NotTo(BeNil(), "the watch saw revision 2 complete")
		for _, p := range ps {
			created := seen.created(p.Name)
			Expect(created).NotTo(BeNil(), "the watch saw purge %s created", p.Name)
			for _, pod := range pods {
				Expect(p.CreationTimestamp.Time).To(BeTemporally(">=", pod.readySince),
					"purge %s created at %s, pod %s ready since %s", p.Name, p.CreationTimestamp, pod.name, pod.readySince)
				// etcd's revision orders every write of the cluster: the
				// Purge was written after the pod's Ready status.
				Expect(created.revision).To(BeNumerically(">", pod.revision), "purge %s after pod %s became ready", p.Name, pod.name)
			}
			Expect(created.revision).To(BeNumerically(">", complete.revision), "purge %s after the Deployment's complete status", p.Name)
			// As the watches saw it, with the test's clock: the figure the
			// report quotes (two watch streams, so not an ordering proof).
			delay := created.at.Sub(complete.at)
			AddReportEntry(fmt.Sprintf("rollout complete → purge %s created", p.Name), delay.Round(time.Millisecond).String())
		}

		f.mustKubectl(ctx, "", "wait", "--for=condition=Purged", "purgetrigger/"+site, "purgetrigger/"+api, "--timeout=90s")
		for _, p := range f.pods {
			r := mustGet(ctx, podAddr(p), "/")
			Expect(r.Release).To(Equal("v2"), "%s: the ban emptied the cache, so users get the new release", p.Name)
			Expect(r.CacheStatus).To(ContainSubstring(csMiss))
		}
	}, NodeTimeout(4*time.Minute))

	It("purges nothing while the new pods fail their readiness probe, and says why", func(ctx SpecContext) {
		// A release whose pods never get ready, and 10s of no progress
		// marks the rollout failed.
		f.mustKubectl(ctx, "", "patch", "deployment/web", "--type=json", "-p",
			`[{"op":"replace","path":"/spec/template/spec/containers/0/readinessProbe/httpGet/path","value":"/never-ready"},`+
				`{"op":"replace","path":"/spec/progressDeadlineSeconds","value":10}]`)
		Eventually(func(g Gomega) {
			c := triggerCondition(ctx, g, ns, site, cachev1alpha1.PurgeTriggerConditionRolloutComplete)
			g.Expect(c.Reason).To(Equal(cachev1alpha1.ReasonRolloutInProgress))
			g.Expect(c.Message).To(ContainSubstring(`Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...`))
		}).WithContext(ctx).Should(Succeed())
		// The new pod runs; the kubelet's probe really fails.
		Eventually(func(g Gomega) {
			g.Expect(f.mustKubectl(ctx, "", "get", "events", "--field-selector=reason=Unhealthy")).
				To(ContainSubstring("Readiness probe failed: HTTP probe failed with statuscode: 404"))
		}).WithContext(ctx).Should(Succeed())

		for _, t := range []string{site, api} {
			Eventually(func(g Gomega) {
				c := triggerCondition(ctx, g, ns, t, cachev1alpha1.PurgeTriggerConditionRolloutComplete)
				g.Expect(c.Reason).To(Equal(cachev1alpha1.ReasonProgressDeadlineExceeded))
				g.Expect(c.Message).To(Equal(`deployment "web" exceeded its progress deadline`))
				g.Expect(triggerCondition(ctx, g, ns, t, cachev1alpha1.PurgeTriggerConditionPurged).Reason).
					To(Equal(cachev1alpha1.ReasonWaitingForRollout))
			}).WithContext(ctx).WithTimeout(90 * time.Second).Should(Succeed())
		}
		Expect(f.mustKubectl(ctx, "", "get", "events", "--field-selector=involvedObject.kind=PurgeTrigger,type=Warning")).
			To(ContainSubstring("Not purging: deployment \"web\" exceeded its progress deadline"))
		Consistently(func(g Gomega) {
			for _, t := range []string{site, api} {
				g.Expect(purgesByRevision(ctx, g, ns, t)).To(HaveLen(1), "only revision 2's Purge")
			}
		}).WithContext(ctx).Should(Succeed())
	}, NodeTimeout(4*time.Minute))

	It("purges after a rollback, which is a new revision", func(ctx SpecContext) {
		f.mustKubectl(ctx, "", "patch", "deployment/web", "-p", `{"spec":{"progressDeadlineSeconds":120}}`)
		f.mustKubectl(ctx, "", "rollout", "undo", "deployment/web")
		f.mustKubectl(ctx, "", "rollout", "status", "deployment/web", "--timeout=2m")
		exactlyOnePurgeEach(ctx, ns, "4", site, api)
	}, NodeTimeout(4*time.Minute))

	It("purges exactly once when the leader is killed mid-rollout and another process takes over", func(ctx SpecContext) {
		// A second replica of the operator's Deployment, as a Deployment of
		// two runs: it waits for the leader's lease.
		leader := operatorPod(ctx, Default)
		mustKubectl(ctx, "", "scale", "deployment/"+operatorDeployment, "-n", operatorNamespace, "--replicas=2")
		DeferCleanup(func(ctx SpecContext) { startOperator(ctx) }, NodeTimeout(3*time.Minute)) // back to one replica
		Eventually(func(g Gomega) {
			pods := operatorPods(ctx, g)
			g.Expect(pods).To(HaveLen(2))
			for _, p := range pods {
				g.Expect(podutils.IsPodReady(&p)).To(BeTrue(), p.Name)
			}
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
		killed := leaseHolder(ctx, Default)
		Expect(killed).To(HavePrefix(leader.Name+"_"), "the first replica still leads")

		f.mustKubectl(ctx, "", "set", "env", "deployment/web", "RELEASE=v3")
		for _, t := range []string{site, api} {
			Eventually(func(g Gomega) {
				var pt cachev1alpha1.PurgeTrigger
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: t}, &pt)).To(Succeed())
				g.Expect(pt.Status.ObservedRevision).To(Equal("5"), "the leader saw revision 5 begin")
				g.Expect(meta.IsStatusConditionTrue(pt.Status.Conditions, cachev1alpha1.PurgeTriggerConditionRolloutComplete)).To(BeFalse())
			}).WithContext(ctx).Should(Succeed())
		}
		// SIGKILL in the leader's container cgroup, as a crash or the OOM
		// killer: it releases nothing, and the kubelet restarts its
		// container in the same pod. The standby and the restarted process
		// both wait for the old lease to expire and either may win; what
		// matters is that leadership moves to a new process and that
		// revision 5 is purged once. (Deleting the pod instead would let
		// the ReplicaSet's replacement race them too, and a deleted pod is
		// sent SIGTERM first, which releases the lease.)
		Expect(cluster.KillPod(operatorNamespace, leader.Name)).To(Succeed())
		killedAt := time.Now()
		f.mustKubectl(ctx, "", "rollout", "status", "deployment/web", "--timeout=2m")
		var successor string
		Eventually(func(g Gomega) {
			successor = leaseHolder(ctx, g)
			g.Expect(successor).NotTo(BeEmpty())
			g.Expect(successor).NotTo(Equal(killed))
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(Succeed(), "a new process leads once the lease expired")
		AddReportEntry("leader after the kill", successor)
		for _, p := range exactlyOnePurgeEach(ctx, ns, "5", site, api) {
			Expect(p.CreationTimestamp.Time).To(BeTemporally(">=", killedAt.Truncate(time.Second)),
				"purge %s was created after the leader died, by its successor", p.Name)
		}
		out := f.mustKubectl(ctx, "", "get", "purgetriggers")
		Expect(out).To(MatchRegexp(`(?m)^web\s+web\s+edge\s+5\s+5\s+RolloutComplete\s`), out)
	}, NodeTimeout(4*time.Minute))

	It("purges nothing while a rollout is paused, and nothing more for a trigger once it is deleted", func(ctx SpecContext) {
		Expect(f.mustKubectl(ctx, "", "delete", "purgetrigger", api)).To(ContainSubstring(`"web-api" deleted`))
		Eventually(func(g Gomega) {
			g.Expect(purgesByRevision(ctx, g, ns, api)).To(BeEmpty(), "its Purges went with it (owner references)")
		}).WithContext(ctx).Should(Succeed())

		f.mustKubectl(ctx, "", "rollout", "pause", "deployment/web")
		f.mustKubectl(ctx, "", "set", "env", "deployment/web", "RELEASE=v4")
		Eventually(func(g Gomega) {
			c := triggerCondition(ctx, g, ns, site, cachev1alpha1.PurgeTriggerConditionRolloutComplete)
			g.Expect(c.Reason).To(Equal(cachev1alpha1.ReasonRolloutPaused))
			g.Expect(c.Message).To(HavePrefix(`deployment "web" is paused: `))
		}).WithContext(ctx).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(purgesByRevision(ctx, g, ns, site)).To(HaveLen(3), "revisions 2, 4 and 5 only")
		}).WithContext(ctx).Should(Succeed())

		f.mustKubectl(ctx, "", "rollout", "resume", "deployment/web")
		f.mustKubectl(ctx, "", "rollout", "status", "deployment/web", "--timeout=2m")
		exactlyOnePurgeEach(ctx, ns, "6", site)
		Consistently(func(g Gomega) {
			g.Expect(purgesByRevision(ctx, g, ns, api)).To(BeEmpty())
		}).WithContext(ctx).Should(Succeed())
	}, NodeTimeout(4*time.Minute))
})

// webYAML is the Deployment and Service "web": the demo origin serving
// release $RELEASE (`kubectl set env deployment/web RELEASE=v2` rolls it
// out), ready when /_origin/healthz answers. One pod is added at a time
// and none removed before its replacement is available; a rollout with no
// progress for two minutes has failed (a busy machine can take a while).
func webYAML(image string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  progressDeadlineSeconds: 120
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: origin
        image: ` + image + `
        imagePullPolicy: Never
        args: ["--listen=:8080", "--release=$(RELEASE)"]
        env:
        - {name: RELEASE, value: v1}
        ports:
        - {containerPort: 8080}
        readinessProbe:
          httpGet: {path: /_origin/healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 8080
`
}

// apiTriggerYAML is a second trigger on web: a purge of the API's tag.
const apiTriggerYAML = `apiVersion: cache.cacheops.io/v1alpha1
kind: PurgeTrigger
metadata:
  name: web-api
spec:
  workloadRef: {kind: Deployment, name: web}
  purgeTemplate:
    spec:
      cacheProxyRef: {name: edge}
      tags: [api]
      ttlSecondsAfterFinished: 3600
`

// purgesByRevision is the Purges trigger created, by the workload revision
// each followed.
func purgesByRevision(ctx context.Context, g Gomega, ns, trigger string) map[string]cachev1alpha1.Purge {
	var l cachev1alpha1.PurgeList
	g.Expect(k8sClient.List(ctx, &l, client.InNamespace(ns), client.MatchingLabels{cachev1alpha1.LabelPurgeTrigger: trigger})).To(Succeed())
	m := map[string]cachev1alpha1.Purge{}
	for _, p := range l.Items {
		rev := p.Annotations[cachev1alpha1.AnnotationWorkloadRevision]
		g.Expect(m).NotTo(HaveKey(rev), "two Purges of trigger %s for revision %s", trigger, rev)
		m[rev] = p
	}
	return m
}

// exactlyOnePurgeEach waits for each trigger's Purge of revision, checks
// no trigger makes a second one, and returns them.
func exactlyOnePurgeEach(ctx context.Context, ns, revision string, triggers ...string) []cachev1alpha1.Purge {
	GinkgoHelper()
	purges := make([]cachev1alpha1.Purge, len(triggers))
	for i, t := range triggers {
		Eventually(func(g Gomega) {
			m := purgesByRevision(ctx, g, ns, t)
			g.Expect(m).To(HaveKey(revision), "trigger %s purged revision %s", t, revision)
			purges[i] = m[revision]
		}).WithContext(ctx).Should(Succeed())
	}
	Consistently(func(g Gomega) {
		for i, t := range triggers {
			g.Expect(purgesByRevision(ctx, g, ns, t)[revision].UID).To(Equal(purges[i].UID), "trigger %s: one Purge of revision %s", t, revision)
		}
	}).WithContext(ctx).Should(Succeed())
	return purges
}

func triggerCondition(ctx context.Context, g Gomega, ns, name, typ string) *metav1.Condition {
	var t cachev1alpha1.PurgeTrigger
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &t)).To(Succeed())
	c := meta.FindStatusCondition(t.Status.Conditions, typ)
	g.Expect(c).NotTo(BeNil(), "purgetrigger %s has no %s condition", name, typ)
	return c
}

// rolledOut reports whether d finished rolling out its current revision,
// by `kubectl rollout status`'s rules (no progress deadline involved).
func rolledOut(d *appsv1.Deployment) bool {
	s := d.Status
	return d.Generation <= s.ObservedGeneration && d.Spec.Replicas != nil &&
		s.UpdatedReplicas == *d.Spec.Replicas && s.Replicas == s.UpdatedReplicas && s.AvailableReplicas == s.UpdatedReplicas
}

// readyPods is the web pods of revision that became ready, and when.
func (t *timeline) readyPods(ctx context.Context, revision string) []readyPod {
	GinkgoHelper()
	var rsets appsv1.ReplicaSetList
	Expect(k8sClient.List(ctx, &rsets, client.InNamespace(t.ns), client.MatchingLabels{"app": "web"})).To(Succeed())
	hash := ""
	for _, rs := range rsets.Items {
		if rs.Annotations[deploymentRevision] == revision {
			hash = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	Expect(hash).NotTo(BeEmpty(), "no ReplicaSet of revision %s", revision)
	return t.podsBecameReady(hash)
}

// deploymentRevision is the annotation the Deployment controller keeps its
// revision number in.
const deploymentRevision = "deployment.kubernetes.io/revision"
