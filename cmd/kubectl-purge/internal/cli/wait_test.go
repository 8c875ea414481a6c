package cli

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// podAt is a target pod's status entry.
func podAt(name, ip string, phase cachev1alpha1.PodPurgePhase, attempts int32, invalidated, refetched int64, lastError string) cachev1alpha1.PodPurgeStatus {
	return withReason(cachev1alpha1.PodPurgeStatus{Name: name, IP: ip, Phase: phase, Attempts: attempts,
		Matched: invalidated, Invalidated: invalidated, Refetched: refetched, LastError: lastError})
}

var _ = Describe("kubectl purge --wait", func() {
	var (
		ns  string
		cli invocation
	)
	BeforeEach(func() {
		ns = newNamespace()
		newCacheProxy(ns, "edge")
		cli = invocation{ns: ns}
	})

	It("prints a line per pod as each answers, then the summary, and exits 0 when the Purge completes", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait=1m")
		Eventually(r.out).Should(gbytes.Say(`purge.cache.cacheops.io/p created\n`))

		playOperator(ns, "p", true,
			podAt("edge-1", "10.0.0.1", pending, 0, 0, 0, ""),
			podAt("edge-2", "10.0.0.2", pending, 0, 0, 0, ""),
			podAt("edge-3", "10.0.0.3", pending, 0, 0, 0, ""))
		Eventually(r.out).Should(gbytes.Say(`Purging 3 pods of CacheProxy edge:\n`))

		playOperator(ns, "p", true,
			podAt("edge-1", "10.0.0.1", succeeded, 1, 5, 0, ""),
			podAt("edge-2", "10.0.0.2", pending, 1, 0, 0, "Post \"http://10.0.0.2:9090/v1/invalidations\": connection refused"),
			podAt("edge-3", "10.0.0.3", pending, 0, 0, 0, ""))
		Eventually(r.out).Should(gbytes.Say(`  edge-1  10\.0\.0\.1  Succeeded  5 matched, 5 invalidated, 0 refetched\n`))
		Eventually(r.out).Should(gbytes.Say(`  edge-2  10\.0\.0\.2  Retrying   attempt 1 failed: Post "http://10\.0\.0\.2:9090/v1/invalidations": connection refused\n`))
		Consistently(r.done, "300ms").ShouldNot(Receive(), "the Purge is still running")

		playOperator(ns, "p", true,
			podAt("edge-1", "10.0.0.1", succeeded, 1, 5, 0, ""),
			podAt("edge-2", "10.0.0.2", succeeded, 2, 7, 2, ""),
			podAt("edge-3", "10.0.0.3", gone, 0, 0, 0, ""))
		Eventually(r.done).Should(Receive(Equal(ExitOK)))
		Expect(r.out).To(gbytes.Say(`  edge-2  10\.0\.0\.2  Succeeded  7 matched, 7 invalidated, 2 refetched\n`))
		Expect(r.out).To(gbytes.Say(`  edge-3  10\.0\.0\.3  Gone       deleted before it answered; its cache went with it\n`))
		Expect(r.out).To(gbytes.Say(`Complete: 3/3 pods \(1 gone\), 12 objects invalidated, 2 refetched in \d+\.\d\ds\n$`))
		Expect(r.errOut.Contents()).To(BeEmpty())
	})

	It("exits 1 when the Purge fails, naming the failed pods", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait")
		Eventually(r.out).Should(gbytes.Say(`created\n`))
		playOperator(ns, "p", true,
			podAt("edge-1", "10.0.0.1", succeeded, 1, 3, 0, ""),
			podAt("edge-2", "10.0.0.2", failed, 4, 0, 0, "deadline exceeded after 4 attempts; last error: 503 Service Unavailable"))
		Eventually(r.done).Should(Receive(Equal(ExitFailed)))
		Expect(r.out).To(gbytes.Say(`  edge-1  10\.0\.0\.1  Succeeded  3 matched, 3 invalidated, 0 refetched\n`))
		Expect(r.out).To(gbytes.Say(`  edge-2  10\.0\.0\.2  Failed     deadline exceeded after 4 attempts; last error: 503 Service Unavailable\n`))
		Expect(r.out).To(gbytes.Say(`Failed: 1/2 pods \(1 failed\), 3 objects invalidated, 0 refetched in `))
		Expect(string(r.errOut.Contents())).To(Equal(fmt.Sprintf(
			"error: purge p failed: 1 of 2 target pods failed: edge-2 (deadline exceeded after 4 attempts; last error: 503 Service Unavailable)\n"+
				"Details: kubectl purge status p -n %s\n", ns)))
	})

	It("exits 3 when the wait times out, saying the Purge goes on, and notes a Purge nobody picks up", func() {
		cli.env.PendingNotice = 100 * time.Millisecond
		start := time.Now()
		res := cli.run("edge", urlA, "--name", "p", "--wait=1s")
		Expect(res.code).To(Equal(ExitTimeout))
		Expect(time.Since(start)).To(BeNumerically(">=", time.Second))
		Expect(res.out).To(Equal("purge.cache.cacheops.io/p created\n" +
			"No status for purge p after 100ms: the operator reports once every target pod was called (a hung pod takes up to its call timeout); " +
			"if this lasts, check that the purge-operator manager is running\n"))
		Expect(res.errOut).To(Equal(fmt.Sprintf(
			"error: timed out after 1s waiting for purge p (Pending); it goes on in the cluster: kubectl purge status p -n %s --wait\n", ns)))
	})

	It("says when it waits for a CacheProxy that does not exist yet", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait=1m")
		Eventually(r.out).Should(gbytes.Say(`created\n`))
		Eventually(func(g Gomega) {
			var p cachev1alpha1.Purge
			g.Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "p"}, &p)).To(Succeed())
			p.Status.Phase = cachev1alpha1.PurgePending
			p.Status.Conditions = []metav1.Condition{{Type: cachev1alpha1.PurgeConditionTargetResolved, Status: metav1.ConditionFalse,
				Reason: cachev1alpha1.ReasonCacheProxyNotFound, LastTransitionTime: metav1.Now(),
				Message: "CacheProxy edge does not exist in this namespace; the Purge starts when it does"}}
			g.Expect(k8sClient.Status().Update(context.Background(), &p)).To(Succeed())
		}).Should(Succeed())
		Eventually(r.out).Should(gbytes.Say(`Waiting: CacheProxy edge does not exist in this namespace; the Purge starts when it does\n`))
		playOperator(ns, "p", true, podAt("edge-1", "10.0.0.1", succeeded, 1, 1, 0, ""))
		Eventually(r.done).Should(Receive(Equal(ExitOK)))
	})

	It("exits 130 when interrupted, saying the Purge goes on", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait")
		Eventually(r.out).Should(gbytes.Say(`created\n`))
		r.cancel()
		Eventually(r.done).Should(Receive(Equal(ExitInterrupted)))
		Expect(r.errOut).To(gbytes.Say(`error: interrupted while waiting for purge p \(Pending\); it goes on in the cluster: kubectl purge status p -n \S+ --wait\n`))
		Expect(purgesIn(ns)).To(HaveLen(1))
	})

	It("exits 1 when the Purge is deleted before it finishes", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait")
		Eventually(r.out).Should(gbytes.Say(`created\n`))
		p := onlyPurge(ns)
		Expect(k8sClient.Delete(context.Background(), &p)).To(Succeed())
		Eventually(r.done).Should(Receive(Equal(ExitFailed)))
		Expect(r.errOut).To(gbytes.Say(`error: purge p was deleted before it finished\n`))
	})

	It("summarises a dry run by what matched", func() {
		r := cli.start("edge", "--ban", "https://www.example.com/img/", "--name", "p", "--dry-run", "--wait")
		Eventually(r.out).Should(gbytes.Say(`created\n`))
		playOperator(ns, "p", true, podAt("edge-1", "10.0.0.1", succeeded, 1, 0, 0, ""), podAt("edge-2", "10.0.0.2", succeeded, 1, 0, 0, ""))
		Eventually(r.done).Should(Receive(Equal(ExitOK)))
		Expect(r.out).To(gbytes.Say(`Counting \(dry run\) in 2 pods of CacheProxy edge:\n`))
		Expect(r.out).To(gbytes.Say(`Complete \(dry run\): 2/2 pods, 0 objects matched, nothing changed, in `))
	})

	It("with -o yaml, prints the final Purge on stdout and the progress on stderr", func() {
		r := cli.start("edge", urlA, "--name", "p", "--wait", "-o", "yaml")
		Eventually(func() []cachev1alpha1.Purge { return purgesIn(ns) }).Should(HaveLen(1))
		playOperator(ns, "p", true, podAt("edge-1", "10.0.0.1", succeeded, 1, 2, 0, ""))
		Eventually(r.done).Should(Receive(Equal(ExitOK)))
		Expect(r.errOut).To(gbytes.Say(`Purging 1 pod of CacheProxy edge:\n  edge-1  10\.0\.0\.1  Succeeded  2 matched, 2 invalidated, 0 refetched\nComplete: 1/1 pods, 2 objects invalidated, 0 refetched in `))
		var final cachev1alpha1.Purge
		Expect(yaml.UnmarshalStrict(r.out.Contents(), &final)).To(Succeed())
		Expect(final.Status.Phase).To(Equal(cachev1alpha1.PurgeComplete))
		Expect(final.Status.ObjectsInvalidated).To(Equal(int64(2)))
	})
})

var _ = Describe("kubectl purge list and status", func() {
	var (
		ns  string
		cli invocation
	)
	BeforeEach(func() {
		ns = newNamespace()
		newCacheProxy(ns, "edge")
		newCacheProxy(ns, "edge-eu")
		cli = invocation{ns: ns}
	})

	It("lists recent Purges with who created them and what they purge", func() {
		Expect(cli.run("edge", urlA, urlB, "--name", "by-plugin").code).To(Equal(ExitOK))
		Expect(cli.run("edge-eu", "--tag", "product-42", "--soft", "--dry-run", "--name", "tags").code).To(Equal(ExitOK))
		Expect(k8sClient.Create(context.Background(), &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-yaml"},
			Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, Mode: cachev1alpha1.PurgeModeBan, URLs: []string{"https://www.example.com/img/"}},
		}, client.FieldOwner("kubectl-client-side-apply"))).To(Succeed())
		playOperator(ns, "by-plugin", true, podAt("edge-1", "10.0.0.1", succeeded, 1, 4, 0, ""), podAt("edge-2", "10.0.0.2", pending, 0, 0, 0, ""))

		res := cli.run("list")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(MatchRegexp(`^NAME +TARGET +MODE +PROGRESS +STATE +INVALIDATED +AGE +CREATED BY +PURGES\n`))
		Expect(res.out).To(MatchRegexp(`\nby-plugin +edge +simple +1/2 +Running +4 +\S+ +kubectl-purge \(admin\) +https://www\.example\.com/a\.js \(\+1 more\)\n`))
		Expect(res.out).To(MatchRegexp(`\ntags +edge-eu +soft +- +- +0 +\S+ +kubectl-purge \(admin\) +\[dry run\] tags product-42\n`))
		Expect(res.out).To(MatchRegexp(`\nfrom-yaml +edge +ban +- +- +0 +\S+ +kubectl-client-side-apply +https://www\.example\.com/img/\n`))

		By("filtering by CacheProxy and limiting")
		res = cli.run("list", "edge-eu")
		Expect(res.out).To(ContainSubstring("\ntags "))
		Expect(res.out).NotTo(ContainSubstring("by-plugin"))
		res = cli.run("list", "--limit", "1")
		Expect(res.out).To(MatchRegexp(`^NAME[^\n]*\n[^\n]+\n$`))

		By("listing every namespace")
		res = cli.run("list", "-A", "--limit", "0")
		Expect(res.out).To(MatchRegexp(`^NAMESPACE +NAME +TARGET`))
		Expect(res.out).To(MatchRegexp(`\n` + ns + ` +by-plugin +edge `))
	})

	It("says when there is no Purge", func() {
		res := cli.run("list")
		Expect(res.code).To(Equal(ExitOK))
		Expect(res.out).To(BeEmpty())
		Expect(res.errOut).To(Equal(fmt.Sprintf("No Purges found in namespace %s.\n", ns)))
	})

	It("shows one Purge: its spec, a row per target pod and its conditions", func() {
		Expect(cli.run("edge", urlA, urlB, "--name", "p", "--refetch").code).To(Equal(ExitOK))
		playOperator(ns, "p", true,
			podAt("edge-1", "10.0.0.1", succeeded, 1, 4, 4, ""),
			podAt("edge-2", "10.0.0.2", failed, 3, 0, 0, "deadline exceeded after 3 attempts;\nlast error: refused"))

		res := cli.run("status", "p")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(ContainSubstring("Name:        p\n"))
		Expect(res.out).To(ContainSubstring("CacheProxy:  edge\n"))
		Expect(res.out).To(ContainSubstring("Mode:        simple, refetch\n"))
		Expect(res.out).To(ContainSubstring("URLs:        " + urlA + "\n             " + urlB + "\n"))
		Expect(res.out).To(ContainSubstring("State:       Failed, 1/2 pods done\n"))
		Expect(res.out).To(MatchRegexp(`Created: +\S+ ago by kubectl-purge \(admin\)\n`))
		Expect(res.out).To(ContainSubstring("Objects:     4 matched, 4 invalidated, 4 refetched\n"))
		Expect(res.out).To(MatchRegexp(`\nPOD +IP +PHASE +ATTEMPTS +MATCHED +INVALIDATED +REFETCHED +LAST ERROR\n` +
			`edge-1 +10\.0\.0\.1 +Succeeded +1 +4 +4 +4 +\n` +
			`edge-2 +10\.0\.0\.2 +Failed +3 +0 +0 +0 +deadline exceeded after 3 attempts; last error: refused\n`))
		Expect(res.out).To(MatchRegexp(`\nCONDITION +STATUS +REASON +MESSAGE\n(.*\n)*Failed +True +DeadlineExceeded +1 of 2 target pods failed: edge-2 `))

		By("showing the newest Purge when no name is given")
		Expect(cli.run("status").out).To(ContainSubstring("Name:        p\n"))
	})

	It("follows an existing Purge with status --wait", func() {
		Expect(cli.run("edge", urlA, "--name", "p").code).To(Equal(ExitOK))
		playOperator(ns, "p", true, podAt("edge-1", "10.0.0.1", succeeded, 1, 1, 0, ""))
		res := cli.run("status", "p", "--wait=30s")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(MatchRegexp(`^Following purge p \(simple\) of CacheProxy edge\n` +
			`Purging 1 pod of CacheProxy edge:\n` +
			`  edge-1  10\.0\.0\.1  Succeeded  1 matched, 1 invalidated, 0 refetched\n` +
			`Complete: 1/1 pods, 1 object invalidated, 0 refetched in \d+s\n$`))
	})

	It("refuses an unknown Purge", func() {
		res := cli.run("status", "nope")
		Expect(res.code).To(Equal(ExitUsage))
		Expect(res.errOut).To(Equal(fmt.Sprintf("error: purge \"nope\" not found in namespace %q (kubectl purge list shows the recent ones)\n", ns)))
	})
})
