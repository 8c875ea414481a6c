package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// What a platform team does first with a cache pod, through the real
// kubelet's streaming server and log files: read its logs, run a command
// in its container, forward a port to it.
var _ = Describe("kubectl logs, exec and port-forward to a cache pod", func() {
	It("show the proxy's own output, run its binary in its image, and reach both of its ports", func(ctx SpecContext) {
		f := newFleet(ctx, "access", 1)
		pod := f.pods[0].Name
		before := warm(ctx, f.pods, "/products/7")
		f.apply(ctx, purgeFile("access-7", []string{"/products/7"}))
		p := f.waitPurge(ctx, "access-7", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		refilled := expectMiss(ctx, f.pods[0], "/products/7", before)

		By("kubectl logs: the container's start line and the invalidation this Purge asked for")
		logs := f.mustKubectl(ctx, "", "logs", pod)
		Expect(logs).To(MatchRegexp(`msg=Serving .*origin=` + f.origin.URL))
		Expect(logs).To(MatchRegexp(`msg=Invalidation id=` + string(p.UID) + `/1 `))

		By("kubectl exec: the image's one binary runs; there is no shell to run")
		out, err := kubectlCombined(ctx, "exec", "-n", f.ns, pod, "--", "/cacheproxy", "--help")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("-cache-size"))
		out, err = kubectlCombined(ctx, "exec", "-n", f.ns, pod, "--", "/bin/sh", "-c", "true")
		Expect(err).To(HaveOccurred(), "the cacheproxy image has no shell")
		Expect(out).To(ContainSubstring("no such file or directory"))

		By("kubectl port-forward: the public port serves from the cache, the admin port answers its probe")
		local := portForward(ctx, f.ns, "pod/"+pod, "8080", "9090")
		r := mustGet(ctx, local["8080"], "/products/7")
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.CacheStatus).To(HavePrefix(csHit))
		Expect(r.Version).To(Equal(refilled.Version), "the copy stored after the Purge")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+local["9090"]+admin.ReadyzPath, nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := httpClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})
})

// kubectlCombined runs kubectl and returns what it printed on both
// streams: a command run with exec writes its help to standard error.
func kubectlCombined(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), append([]string{"--kubeconfig", cluster.KubeconfigPath()}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// portForward runs `kubectl port-forward` of target's ports to free ports
// on 127.0.0.1 until the spec ends, and returns the local address of each
// remote port once kubectl listens on all of them.
func portForward(ctx context.Context, ns, target string, ports ...string) map[string]string {
	GinkgoHelper()
	args := []string{"--kubeconfig", cluster.KubeconfigPath(), "port-forward", "-n", ns, target, "--address", "127.0.0.1"}
	for _, p := range ports {
		args = append(args, ":"+p)
	}
	cmd := exec.CommandContext(ctx, cluster.KubectlPath(), args...)
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	cmd.Stderr = GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// One line per port: "Forwarding from 127.0.0.1:NNNNN -> 8080".
	local := map[string]string{}
	lines := bufio.NewReader(stdout)
	for len(local) < len(ports) {
		line, err := lines.ReadString('\n')
		Expect(err).NotTo(HaveOccurred(), "kubectl port-forward stopped; it printed %q", line)
		GinkgoWriter.Print(line)
		addr, remote, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "Forwarding from ")), " -> ")
		Expect(ok).To(BeTrue(), "unexpected kubectl port-forward output %q", line)
		local[remote] = addr
	}
	return local
}
