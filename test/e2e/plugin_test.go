package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The plugin as kubectl runs it: found on PATH, and completed through
// kubectl's own plugin completion, which runs kubectl_complete-purge with
// the words typed after `kubectl purge` and KUBECONFIG from the
// environment.
var _ = Describe("kubectl purge, found and completed by kubectl", func() {
	It("lists CacheProxy names when the user presses TAB after `kubectl purge`", func(ctx SpecContext) {
		ns := "e2e-plugin"
		mustKubectl(ctx, "", "create", "namespace", ns)
		createdNamespaces = append(createdNamespaces, ns)
		DeferCleanup(func(ctx SpecContext) { mustKubectl(ctx, "", "delete", "namespace", ns, "--wait=false") })
		mustKubectl(ctx, `apiVersion: cache.cacheops.io/v1alpha1
kind: CacheProxy
metadata:
  name: edge
spec:
  replicas: 0
  origin:
    url: http://127.0.0.1:1
`, "apply", "-n", ns, "-f", "-")

		// What bash's completion function runs for `kubectl purge -n NS e<TAB>`.
		cmd := exec.CommandContext(ctx, cluster.KubectlPath(), "__complete", "purge", "-n", ns, "e")
		cmd.Env = append(os.Environ(),
			"KUBECONFIG="+cluster.KubeconfigPath(),
			"PATH="+paths.binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		Expect(cmd.Run()).To(Succeed(), stderr.String())
		GinkgoWriter.Printf("$ kubectl __complete purge -n %s e\n%s%s", ns, stdout.String(), stderr.String())
		Expect(strings.Split(strings.TrimSpace(stdout.String()), "\n")).To(Equal([]string{"edge", ":4"}))
	})
})
