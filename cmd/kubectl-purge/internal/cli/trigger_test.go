package cli

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func triggersIn(ns string) []cachev1alpha1.PurgeTrigger {
	GinkgoHelper()
	var l cachev1alpha1.PurgeTriggerList
	Expect(k8sClient.List(context.Background(), &l, client.InNamespace(ns))).To(Succeed())
	return l.Items
}

var _ = Describe("kubectl purge CACHEPROXY URL... --after-rollout KIND/NAME", func() {
	var (
		ns  string
		cli invocation
	)
	BeforeEach(func() {
		ns = newNamespace()
		newCacheProxy(ns, "edge")
		cli = invocation{ns: ns}
	})

	It("creates a PurgeTrigger whose template is the Purge the flags describe, and no Purge", func() {
		res := cli.run("edge", "--ban", "https://www.example.com/", "--yes", "--ttl", "1h", "--after-rollout", "deployment/web")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(Equal("purgetrigger.cache.cacheops.io/web-edge created\n"))
		Expect(purgesIn(ns)).To(BeEmpty())

		triggers := triggersIn(ns)
		Expect(triggers).To(HaveLen(1))
		t := triggers[0]
		Expect(t.Spec.WorkloadRef).To(Equal(cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: "web"}))
		Expect(t.Spec.HistoryLimit).To(Equal(int32(5)), "the API's default")
		want := defaulted()
		want.Mode, want.URLs, want.ConfirmHostRootBan = cachev1alpha1.PurgeModeBan, []string{"https://www.example.com/"}, true
		want.TTLSecondsAfterFinished = ptr.To[int32](3600)
		Expect(t.Spec.PurgeTemplate.Spec).To(Equal(want))
		Expect(t.Labels).To(HaveKeyWithValue(LabelCreatedBy, CreatedByValue))
		Expect(t.Spec.PurgeTemplate.Metadata.Labels).To(HaveKeyWithValue(LabelCreatedBy, CreatedByValue))
	})

	It("prints, with --dry-run=client -o yaml, a trigger to commit, creating nothing", func() {
		res := cli.run("edge", "https://www.example.com/app.js", "--soft", "--after-rollout", "sts/web", "--name", "web-after-deploy",
			"--dry-run=client", "-o", "yaml")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(triggersIn(ns)).To(BeEmpty())
		Expect(res.out).To(ContainSubstring("kind: PurgeTrigger"))
		Expect(res.out).NotTo(ContainSubstring("status"))
		Expect(res.out).NotTo(ContainSubstring("creationTimestamp"))

		By("applying the manifest as GitOps would")
		var manifest cachev1alpha1.PurgeTrigger
		Expect(yaml.UnmarshalStrict([]byte(res.out), &manifest)).To(Succeed())
		Expect(k8sClient.Create(context.Background(), &manifest)).To(Succeed())
		got := triggersIn(ns)
		Expect(got).To(HaveLen(1))
		Expect(got[0].Name).To(Equal("web-after-deploy"))
		Expect(got[0].Spec.WorkloadRef.Kind).To(Equal(cachev1alpha1.WorkloadStatefulSet))
		Expect(got[0].Spec.PurgeTemplate.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
	})

	It("refuses a trigger name in use", func() {
		Expect(cli.run("edge", "https://www.example.com/a.js", "--after-rollout", "deploy/web").code).To(Equal(ExitOK))
		res := cli.run("edge", "https://www.example.com/b.js", "--after-rollout", "deploy/web")
		Expect(res.code).To(Equal(ExitUsage))
		Expect(res.errOut).To(ContainSubstring(`purgetrigger "web-edge" already exists in namespace "` + ns + `"`))
	})

	DescribeTable("refuses bad input, creating nothing",
		func(args []string, message string) {
			res := cli.run(args...)
			Expect(res.code).To(Equal(ExitUsage), res.out)
			Expect(res.errOut).To(ContainSubstring(message))
			Expect(triggersIn(ns)).To(BeEmpty())
		},
		Entry("no kind", []string{"edge", urlA, "--after-rollout", "web"}, "want KIND/NAME, such as deployment/web"),
		Entry("an unsupported kind", []string{"edge", urlA, "--after-rollout", "daemonset/web"}, `not "daemonset"`),
		Entry("--wait", []string{"edge", urlA, "--after-rollout", "deployment/web", "--wait"}, "--wait with --after-rollout"),
		Entry("a name too long", []string{"edge", urlA, "--after-rollout", "deployment/web", "--name", strings.Repeat("a", 64)}, "has at most 63"),
		Entry("a host-root ban without --yes, stdin no terminal", []string{"edge", "--ban", "https://www.example.com/", "--after-rollout", "deployment/web"},
			"pass --yes if that is what you want"),
	)
})
