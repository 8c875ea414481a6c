package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("shell completion (kubectl_complete-purge)", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		newCacheProxy(ns, "edge")
		newCacheProxy(ns, "edge-eu")
		newCacheProxy(ns, "static")
		Expect(k8sClient.Create(context.Background(), &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge-simple-abcde"},
			Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, URLs: []string{urlA}},
		})).To(Succeed())
	})

	// complete runs cobra's completion command the way main does for
	// kubectl_complete-purge: words is what the user typed after `kubectl
	// purge`, the last one being completed. It returns the offered words
	// and the directive line. Shells discard stderr during completion, but
	// an error there would still be a failure to see: only cobra's note of
	// the directive may be on it.
	complete := func(kubeconfig string, words ...string) ([]string, string) {
		GinkgoHelper()
		var out, errOut bytes.Buffer
		env := Env{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append([]string{"__complete", "--kubeconfig", kubeconfig, "-n", ns}, words...)
		Expect(Main(ctx, env, args)).To(Equal(ExitOK), errOut.String())
		for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
			Expect(l).To(HavePrefix("Completion ended with directive"))
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		Expect(lines).NotTo(BeEmpty())
		var offered []string
		for _, l := range lines[:len(lines)-1] {
			offered = append(offered, strings.SplitN(l, "\t", 2)[0]) // drop descriptions
		}
		return offered, lines[len(lines)-1]
	}

	It("offers the namespace's CacheProxies and the subcommands for the first word, and no files", func() {
		offered, directive := complete(adminKubeconfig, "")
		Expect(offered).To(ContainElements("edge", "edge-eu", "static", "list", "status"))
		Expect(directive).To(Equal(":4")) // ShellCompDirectiveNoFileComp

		offered, _ = complete(adminKubeconfig, "ed")
		Expect(offered).To(ConsistOf("edge", "edge-eu"))
	})

	It("offers nothing for the URLs after the CacheProxy", func() {
		offered, directive := complete(adminKubeconfig, "edge", "https://www.example.com/a.js", "")
		Expect(offered).To(BeEmpty())
		Expect(directive).To(Equal(":4"))
	})

	It("offers Purge names for status and CacheProxy names for list", func() {
		offered, _ := complete(adminKubeconfig, "status", "")
		Expect(offered).To(ConsistOf("edge-simple-abcde"))
		offered, _ = complete(adminKubeconfig, "list", "st")
		Expect(offered).To(ConsistOf("static"))
	})

	It("offers namespaces for -n and flag names for a dash", func() {
		offered, _ := complete(adminKubeconfig, "edge", "-n", ns[:len(ns)-2])
		Expect(offered).To(ContainElement(ns))
		offered, _ = complete(adminKubeconfig, "edge", "--ba")
		Expect(offered).To(ConsistOf("--ban"))
	})

	It("offers nothing, and prints no error, when the cluster cannot be reached", func() {
		unreachable := filepath.Join(GinkgoT().TempDir(), "unreachable.kubeconfig")
		Expect(os.WriteFile(unreachable, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`), 0o600)).To(Succeed())
		offered, directive := complete(unreachable, "")
		Expect(offered).To(ConsistOf("help", "list", "status", "dashboard"))
		Expect(directive).To(Equal(":4"))

		offered, _ = complete(unreachable, "edge", "--context", "")
		Expect(offered).To(ConsistOf("ctx"))
	})
})
