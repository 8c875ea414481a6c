package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// defaulted is the spec the API server stores for a Purge of edge with
// nothing else set.
func defaulted() cachev1alpha1.PurgeSpec {
	return cachev1alpha1.PurgeSpec{
		CacheProxyRef:   cachev1alpha1.CacheProxyReference{Name: "edge"},
		Mode:            cachev1alpha1.PurgeModeSimple,
		DeadlineSeconds: 120,
	}
}

const (
	urlA = "https://www.example.com/a.js"
	urlB = "https://www.example.com/b.js?v=2"
)

var _ = Describe("kubectl purge CACHEPROXY URL...", func() {
	var (
		ns  string
		cli invocation
	)
	BeforeEach(func() {
		ns = newNamespace()
		newCacheProxy(ns, "edge")
		cli = invocation{ns: ns}
	})

	DescribeTable("creates the Purge the flags ask for",
		func(args []string, namePattern string, want func(*cachev1alpha1.PurgeSpec)) {
			res := cli.run(append([]string{"edge"}, args...)...)
			Expect(res.code).To(Equal(ExitOK), res.errOut)
			Expect(res.errOut).To(BeEmpty())

			p := onlyPurge(ns)
			Expect(p.Name).To(MatchRegexp(namePattern))
			Expect(res.out).To(Equal(fmt.Sprintf("purge.cache.cacheops.io/%s created\n", p.Name)))
			spec := defaulted()
			want(&spec)
			Expect(p.Spec).To(Equal(spec))
			Expect(p.Labels).To(HaveKeyWithValue(LabelCreatedBy, CreatedByValue))
			Expect(p.Annotations).To(HaveKeyWithValue(AnnotationRequestedBy, "admin"))
			Expect(createdBy(&p)).To(Equal("kubectl-purge (admin)"))
		},
		Entry("simple URLs, in order, repeats dropped", []string{urlA, urlB, urlA}, `^edge-simple-[a-z0-9]{5}$`,
			func(s *cachev1alpha1.PurgeSpec) { s.URLs = []string{urlA, urlB} }),
		Entry("--soft --refetch", []string{urlA, "--soft", "--refetch"}, `^edge-soft-[a-z0-9]{5}$`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.Mode, s.Refetch, s.URLs = cachev1alpha1.PurgeModeSoft, true, []string{urlA}
			}),
		Entry("tags only", []string{"--tag", "product-42", "--tag", "products"}, `^edge-simple-`,
			func(s *cachev1alpha1.PurgeSpec) { s.Tags = []string{"product-42", "products"} }),
		Entry("URLs and tags, soft", []string{"--soft", urlA, "--tag", "product-42"}, `^edge-soft-`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.Mode, s.URLs, s.Tags = cachev1alpha1.PurgeModeSoft, []string{urlA}, []string{"product-42"}
			}),
		Entry("--ban with a prefix and a wildcard", []string{"--ban", "https://www.example.com/img/", "https://www.example.com/*.css"}, `^edge-ban-`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.Mode, s.URLs = cachev1alpha1.PurgeModeBan, []string{"https://www.example.com/img/", "https://www.example.com/*.css"}
			}),
		Entry("--ban at a host's root with --yes", []string{"--ban", "https://www.example.com/", "--yes"}, `^edge-ban-`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.Mode, s.URLs, s.ConfirmHostRootBan = cachev1alpha1.PurgeModeBan, []string{"https://www.example.com/"}, true
			}),
		Entry("--dry-run counts (spec.dryRun)", []string{urlA, "--dry-run"}, `^edge-simple-`,
			func(s *cachev1alpha1.PurgeSpec) { s.URLs, s.DryRun = []string{urlA}, true }),
		Entry("--dry-run=count of a host-root ban needs no confirmation", []string{"--ban", "https://www.example.com/*", "--dry-run=count"}, `^edge-ban-`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.Mode, s.URLs, s.DryRun, s.ConfirmHostRootBan = cachev1alpha1.PurgeModeBan, []string{"https://www.example.com/*"}, true, true
			}),
		Entry("--deadline and --ttl", []string{urlA, "--deadline", "90s", "--ttl", "1h"}, `^edge-simple-`,
			func(s *cachev1alpha1.PurgeSpec) {
				s.URLs, s.DeadlineSeconds, s.TTLSecondsAfterFinished = []string{urlA}, 90, ptr.To[int32](3600)
			}),
		Entry("--name", []string{urlA, "--name", "app-js"}, `^app-js$`,
			func(s *cachev1alpha1.PurgeSpec) { s.URLs = []string{urlA} }),
		Entry("--dry-run=none", []string{urlA, "--dry-run=none"}, `^edge-simple-`,
			func(s *cachev1alpha1.PurgeSpec) { s.URLs = []string{urlA} }),
	)

	It("reads URLs from files and stdin, after the arguments, skipping blanks and comments", func() {
		file := filepath.Join(GinkgoT().TempDir(), "urls.txt")
		Expect(os.WriteFile(file, []byte("# pasted from the dashboard\r\nhttps://www.example.com/1\r\n\r\n  https://www.example.com/2  \r\n"), 0o600)).To(Succeed())
		cli.stdin = "https://www.example.com/3\nhttps://www.example.com/1\n"
		res := cli.run("edge", urlA, "-f", file, "-f", "-")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(onlyPurge(ns).Spec.URLs).To(Equal([]string{urlA, "https://www.example.com/1", "https://www.example.com/2", "https://www.example.com/3"}))
	})

	It("points at the line of a file with a bad URL", func() {
		file := filepath.Join(GinkgoT().TempDir(), "urls.txt")
		Expect(os.WriteFile(file, []byte("https://www.example.com/1\nwww.example.com/2\n"), 0o600)).To(Succeed())
		res := cli.run("edge", "-f", file)
		Expect(res.code).To(Equal(ExitUsage))
		Expect(res.errOut).To(ContainSubstring(file + `:2: "www.example.com/2" is not an absolute http:// or https:// URL`))
		Expect(res.errOut).To(ContainSubstring("did you mean https://www.example.com/2?"))
		Expect(purgesIn(ns)).To(BeEmpty())
	})

	It("prints the created Purge with -o yaml", func() {
		res := cli.run("edge", urlA, "--name", "app-js", "-o", "yaml")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		var printed cachev1alpha1.Purge
		Expect(yaml.UnmarshalStrict([]byte(res.out), &printed)).To(Succeed())
		stored := onlyPurge(ns)
		Expect(printed.UID).To(Equal(stored.UID))
		Expect(printed.Spec).To(Equal(stored.Spec))
		Expect(printed.ManagedFields).To(BeEmpty(), "managed fields are noise unless --show-managed-fields")
	})

	It("prints, with --dry-run=client -o yaml, a manifest to commit instead, creating nothing", func() {
		res := cli.run("edge", urlA, "--tag", "product-42", "--soft", "--name", "app-js", "--dry-run=client", "-o", "yaml")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(purgesIn(ns)).To(BeEmpty())
		Expect(res.out).NotTo(ContainSubstring("status"))
		Expect(res.out).NotTo(ContainSubstring("creationTimestamp"))

		By("applying the manifest as GitOps would")
		var manifest cachev1alpha1.Purge
		Expect(yaml.UnmarshalStrict([]byte(res.out), &manifest)).To(Succeed())
		Expect(manifest.Namespace).To(Equal(ns), "-n was given, so the manifest names the namespace")
		Expect(k8sClient.Create(context.Background(), &manifest)).To(Succeed())
		want := defaulted()
		want.Mode, want.URLs, want.Tags = cachev1alpha1.PurgeModeSoft, []string{urlA}, []string{"product-42"}
		Expect(onlyPurge(ns).Spec).To(Equal(want))
	})

	It("prints a name-only line with --dry-run=client and no -o", func() {
		res := cli.run("edge", urlA, "--name", "app-js", "--dry-run=client")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(Equal("purge.cache.cacheops.io/app-js created (dry run)\n"))
		Expect(purgesIn(ns)).To(BeEmpty())
	})

	It("has the API server validate the Purge with --dry-run=server, storing nothing", func() {
		res := cli.run("edge", urlA, "--name", "app-js", "--dry-run=server")
		Expect(res.code).To(Equal(ExitOK), res.errOut)
		Expect(res.out).To(Equal("purge.cache.cacheops.io/app-js created (server dry run)\n"))
		Expect(purgesIn(ns)).To(BeEmpty())

		res = cli.run("edge", urlA, "--deadline", "48h", "--dry-run=server")
		Expect(res.code).To(Equal(ExitUsage))
		Expect(res.errOut).To(ContainSubstring("spec.deadlineSeconds: "))
	})

	It("refuses a name in use", func() {
		Expect(cli.run("edge", urlA, "--name", "app-js").code).To(Equal(ExitOK))
		res := cli.run("edge", urlB, "--name", "app-js")
		Expect(res.code).To(Equal(ExitUsage))
		Expect(res.errOut).To(ContainSubstring(`purge "app-js" already exists in namespace "` + ns + `": a Purge is a one-off request`))
	})

	DescribeTable("refuses locally what the API would refuse, creating nothing",
		func(args []string, message string) {
			res := cli.run(args...)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(HavePrefix("error: "))
			Expect(res.errOut).To(ContainSubstring(message))
			Expect(purgesIn(ns)).To(BeEmpty())
		},
		Entry("no argument", nil, "a CacheProxy name and at least one URL or --tag are required"),
		Entry("no URL or tag", []string{"edge"}, "at least one URL (argument or -f FILE) or --tag is required"),
		Entry("--soft with --ban", []string{"edge", urlA, "--soft", "--ban"}, "--soft and --ban conflict"),
		Entry("--tag with --ban", []string{"edge", "https://www.example.com/img/", "--ban", "--tag", "t"}, "--tag is not allowed with --ban: a ban matches URL patterns"),
		Entry("--refetch with --ban", []string{"edge", "https://www.example.com/img/", "--ban", "--refetch"}, "--refetch is not allowed with --ban: a pattern names no URL to fetch"),
		Entry("a wildcard without --ban", []string{"edge", "https://www.example.com/*.css"}, "contains '*': wildcards are for ban patterns; add --ban"),
		Entry("a relative URL", []string{"edge", "/a.js"}, `argument 2: "/a.js" is not an absolute http:// or https:// URL`),
		Entry("a URL too long, pointing at the argument", []string{"edge", urlA, "https://www.example.com/" + strings.Repeat("a", 2100)}, "argument 3: 2124 characters, at most 2048 allowed"),
		Entry("an invalid tag", []string{"edge", "--tag", "product-42", "--tag", "a b"}, `--tag "a b": "a b" contains a space, a comma or a control character`),
		Entry("a wait timeout after a space", []string{"edge", urlA, "--wait", "30s"}, "(to set a wait timeout, write --wait=30s)"),
		Entry("an ambiguous --dry-run=true", []string{"edge", urlA, "--dry-run=true"}, "--dry-run=true is ambiguous"),
		Entry("--wait with a client dry run", []string{"edge", urlA, "--dry-run=client", "--wait"}, "no Purge is stored, so there is nothing to wait for"),
		Entry("an unknown flag", []string{"edge", urlA, "--purge-everything"}, "unknown flag: --purge-everything"),
		Entry("an unknown output format", []string{"edge", urlA, "-o", "table"}, `unable to match a printer suitable for the output format "table"`),
	)

	Describe("passes the API server's validation messages through", func() {
		// refusal is the API server's own message for a Purge with spec,
		// created directly: the plugin must show each of its causes.
		refusal := func(spec cachev1alpha1.PurgeSpec) []string {
			err := k8sClient.Create(context.Background(), &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "direct-"}, Spec: spec,
			})
			var status apierrors.APIStatus
			Expect(errors.As(err, &status)).To(BeTrue(), "the API server accepted %+v", spec)
			var msgs []string
			for _, c := range status.Status().Details.Causes {
				msgs = append(msgs, stripTypeValue(c.Message))
			}
			Expect(msgs).NotTo(BeEmpty())
			return msgs
		}
		It("for too many URLs from a file", func() {
			var lines, urls []string
			for i := range 257 {
				u := fmt.Sprintf("https://www.example.com/p/%d", i)
				lines, urls = append(lines, u), append(urls, u)
			}
			file := filepath.Join(GinkgoT().TempDir(), "urls.txt")
			Expect(os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600)).To(Succeed())
			res := cli.run("edge", "-f", file)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring("spec.urls: "))
			for _, msg := range refusal(cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, URLs: urls}) {
				Expect(res.errOut).To(ContainSubstring(msg))
			}
		})

		It("for a deadline out of bounds", func() {
			res := cli.run("edge", urlA, "--deadline", "48h")
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring("spec.deadlineSeconds: "))
			for _, msg := range refusal(cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, URLs: []string{urlA}, DeadlineSeconds: 172800}) {
				Expect(res.errOut).To(ContainSubstring(msg))
			}
		})
	})

	Describe("a ban at a host's root", func() {
		root := "https://www.example.com/"
		terminal := func(answer string) invocation {
			inv := cli
			inv.stdin = answer
			inv.env.StdinIsTerminal = func() bool { return true }
			return inv
		}

		It("is refused without --yes when stdin is no terminal to ask on", func() {
			res := cli.run("edge", "--ban", root)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring(`https://www.example.com/ bans all of www.example.com: every pod of CacheProxy "edge" drops every object of it`))
			Expect(res.errOut).To(ContainSubstring("stdin is not a terminal to ask on, so pass --yes"))
			Expect(purgesIn(ns)).To(BeEmpty())
		})

		It("is refused when the answer is not yes", func() {
			res := terminal("n\n").run("edge", "--ban", root)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring("Ban the whole host? [y/N]: "))
			Expect(res.errOut).To(ContainSubstring("host-root ban not confirmed; nothing was created"))
			Expect(purgesIn(ns)).To(BeEmpty())
		})

		It("is created, confirmed, when the answer is yes", func() {
			res := terminal("yes\n").run("edge", "--ban", root)
			Expect(res.code).To(Equal(ExitOK), res.errOut)
			Expect(res.errOut).To(ContainSubstring("Ban the whole host? [y/N]: "))
			p := onlyPurge(ns)
			Expect(p.Spec.ConfirmHostRootBan).To(BeTrue())
			Expect(p.Spec.URLs).To(Equal([]string{root}))
		})

		It("needs --yes when the URLs come from stdin, even on a terminal", func() {
			res := terminal(root+"\n").run("edge", "--ban", "-f", "-")
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring("pass --yes"))
			Expect(purgesIn(ns)).To(BeEmpty())
		})

		It("is only warned about by --dry-run=client, which prints what the API server would refuse", func() {
			res := cli.run("edge", "--ban", root, "--dry-run=client", "-o", "yaml")
			Expect(res.code).To(Equal(ExitOK))
			Expect(res.errOut).To(ContainSubstring("the API server refuses this Purge unless confirmHostRootBan is true (add --yes to set it)"))
			Expect(res.out).NotTo(ContainSubstring("confirmHostRootBan"))

			res = cli.run("edge", "--ban", root, "--dry-run=client", "-o", "yaml", "--yes")
			Expect(res.code).To(Equal(ExitOK))
			Expect(res.out).To(ContainSubstring("confirmHostRootBan: true"))
		})
	})

	Describe("an unknown CacheProxy", func() {
		It("is refused, naming the CacheProxies of the namespace", func() {
			newCacheProxy(ns, "edge-eu")
			res := cli.run("edgee", urlA)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(Equal(fmt.Sprintf("error: CacheProxy \"edgee\" not found in namespace %q; CacheProxies there: edge, edge-eu\n", ns)))
			Expect(purgesIn(ns)).To(BeEmpty())
		})

		It("is refused, naming the namespace where one of that name exists", func() {
			other := newNamespace()
			newCacheProxy(other, "checkout")
			empty := newNamespace()
			res := invocation{ns: empty}.run("checkout", urlA)
			Expect(res.code).To(Equal(ExitUsage))
			Expect(res.errOut).To(ContainSubstring(fmt.Sprintf("CacheProxy \"checkout\" not found in namespace %q; there is no CacheProxy in that namespace\n", empty)))
			Expect(res.errOut).To(ContainSubstring(fmt.Sprintf("CacheProxy \"checkout\" exists in namespace %s: add -n %s", other, other)))
		})
	})

	Describe("permissions", func() {
		It("says which verb on which resource in which namespace was denied", func() {
			viewer := invocation{ns: ns, kubeconfig: grant(ns, "viewer-"+ns, "get", "list", "watch")}
			res := viewer.run("edge", urlA)
			Expect(res.code).To(Equal(ExitFailed))
			Expect(res.errOut).To(ContainSubstring(fmt.Sprintf(`error: permission denied: you may not create purges.cache.cacheops.io in namespace %q`, ns)))
			Expect(res.errOut).To(ContainSubstring(fmt.Sprintf(`User "viewer-%s" cannot create resource "purges" in API group "cache.cacheops.io" in the namespace "%s"`, ns, ns)))
			Expect(res.errOut).To(ContainSubstring(`ask for a Role that grants "create" on "purges" in API group cache.cacheops.io`))
			Expect(purgesIn(ns)).To(BeEmpty())

			By("letting the viewer list")
			Expect(viewer.run("list").code).To(Equal(ExitOK))
		})

		It("creates for a user who may create Purges but not read CacheProxies, and says why it cannot follow", func() {
			user := "creator-" + ns
			creator := invocation{ns: ns, kubeconfig: grant(ns, user, "create", "get")}
			res := creator.run("edge", urlA, "--wait=20s")
			Expect(res.code).To(Equal(ExitFailed))
			p := onlyPurge(ns)
			Expect(res.out).To(Equal(fmt.Sprintf("purge.cache.cacheops.io/%s created\n", p.Name)))
			Expect(res.errOut).To(ContainSubstring(fmt.Sprintf("cannot follow purge %s: permission denied: you may not watch purges.cache.cacheops.io in namespace %q", p.Name, ns)))
			Expect(p.Annotations).To(HaveKeyWithValue(AnnotationRequestedBy, user))
		})
	})
})
