package localcluster_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// kubectl runs the cluster's kubectl with its admin kubeconfig.
func kubectl(ctx context.Context, c *localcluster.Cluster, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.KubectlPath(), append([]string{"--kubeconfig", c.KubeconfigPath()}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// bareServer creates a bare testpod pod in namespace ns of c, serving on
// port 8080 of its own network namespace, and waits for it to be Ready.
func bareServer(ctx context.Context, c *localcluster.Cluster, ns, name string) corev1.Pod {
	GinkgoHelper()
	return runReady(ctx, c, serverPod(ns, name))
}

// serverPod is a bare testpod pod serving on port 8080, with a readiness
// probe.
func serverPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](2),
			Containers: []corev1.Container{{
				Name: "c", Image: testpodImage, ImagePullPolicy: corev1.PullNever,
				Args:           []string{"--listen=:8080", "--name=" + name},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
			}},
		},
	}
}

// runReady creates pod (and its namespace) in c and waits for it to be
// Ready.
func runReady(ctx context.Context, c *localcluster.Cluster, pod *corev1.Pod) corev1.Pod {
	GinkgoHelper()
	cl := c.Client()
	Expect(client.IgnoreAlreadyExists(cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pod.Namespace}}))).To(Succeed())
	// ServiceAccount admission refuses a pod until its namespace's default
	// ServiceAccount exists; kube-controller-manager creates it a moment
	// after the namespace, and the API server waits for it a second or two.
	Eventually(func() error {
		return cl.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: "default"}, &corev1.ServiceAccount{})
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	Expect(cl.Create(ctx, pod)).To(Succeed())
	var p corev1.Pod
	Eventually(func(g Gomega) {
		g.Expect(cl.Get(ctx, client.ObjectKeyFromObject(pod), &p)).To(Succeed())
		g.Expect(isReady(p)).To(BeTrue())
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	return p
}

var _ = Describe("kubectl", func() {
	It("reads a container's logs, runs a command in it and forwards a port to it", func(ctx SpecContext) {
		bareServer(ctx, cluster, "kubectl", "server")
		out, err := kubectl(ctx, cluster, "logs", "-n", "kubectl", "server")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("testpod server listening on :8080"))

		out, err = kubectl(ctx, cluster, "exec", "-n", "kubectl", "server", "--", "/testpod", "--print-args", "a b")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("--print-args\na b\n"))

		pf := exec.CommandContext(ctx, cluster.KubectlPath(), "--kubeconfig", cluster.KubeconfigPath(),
			"port-forward", "-n", "kubectl", "pod/server", "--address", "127.0.0.1", ":8080")
		stdout, err := pf.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		pf.Stderr = GinkgoWriter
		Expect(pf.Start()).To(Succeed())
		DeferCleanup(func() { _ = pf.Process.Kill(); _ = pf.Wait() })
		// "Forwarding from 127.0.0.1:NNNNN -> 8080"
		line, err := bufio.NewReader(stdout).ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		local := strings.Fields(strings.TrimPrefix(line, "Forwarding from "))[0]
		body, err := get("http://" + local + "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(body)).To(Equal("server"))
	})
})

var _ = Describe("Host processes", func() {
	It("run with the cluster's kubeconfig and stop or die on demand", func() {
		h, err := cluster.StartHostProcess("sleeper", "/bin/sh", []string{"-c", `echo "kubeconfig=$KUBECONFIG extra=$EXTRA"; exec sleep 60`}, "EXTRA=1")
		Expect(err).NotTo(HaveOccurred())
		Expect(h.LogPath()).To(Equal(cluster.LogPath("sleeper")))
		Eventually(func() (string, error) {
			b, err := os.ReadFile(h.LogPath())
			return string(b), err
		}).Should(ContainSubstring("kubeconfig=" + cluster.KubeconfigPath() + " extra=1"))

		began := time.Now()
		h.Stop()
		Expect(time.Since(began)).To(BeNumerically("<", 5*time.Second), "sleep exits on SIGTERM")
		Expect(alive(h.PID())).To(BeFalse())

		// Started again under the same name, killed as a crash.
		h, err = cluster.StartHostProcess("sleeper", "/bin/sleep", []string{"60"})
		Expect(err).NotTo(HaveOccurred())
		h.Kill()
		Expect(h.ExitCode()).To(Equal(-1))
		Expect(alive(h.PID())).To(BeFalse())
	})
})

var _ = Describe("A second cluster on the same machine", func() {
	It("runs beside the first with its own ranges, namespace and cgroup, leaves nothing behind, and starts again empty on the same state directory", func(ctx SpecContext) {
		_, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), StateDir: cluster.StateDir(), ImageArchives: images})
		Expect(err).To(MatchError(ContainSubstring("in use by another local cluster")))

		stateDir := GinkgoT().TempDir()
		before := processes()
		netnsBefore := netnsNames()
		second, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), StateDir: stateDir, ImageArchives: images, Logger: GinkgoLogr})
		Expect(err).NotTo(HaveOccurred())
		stopped := false
		DeferCleanup(func() {
			if !stopped {
				Expect(second.Stop()).To(Succeed())
			}
		})
		ranges := []string{cluster.ServiceCIDR().String(), cluster.PodCIDR().String(), second.ServiceCIDR().String(), second.PodCIDR().String()}
		seen := map[string]bool{}
		for _, r := range ranges {
			Expect(seen).NotTo(HaveKey(r), "ranges %v overlap", ranges)
			seen[r] = true
		}
		Expect(second.KubeconfigPath()).To(Equal(filepath.Join(stateDir, "kubeconfig")))

		// The same pod name and port in both clusters, each reachable.
		first := bareServer(ctx, cluster, "twins", "twin")
		other := bareServer(ctx, second, "twins", "twin")
		Expect(first.Status.PodIP).NotTo(Equal(other.Status.PodIP))
		for _, p := range []corev1.Pod{first, other} {
			body, err := get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/")
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(body)).To(Equal("twin"))
		}
		pid := pidIn(second, "twins", "twin")

		Expect(second.Stop()).To(Succeed())
		stopped = true
		Expect(alive(pid)).To(BeFalse(), "the second cluster's container outlived Stop")
		for pid, cmd := range processes(stateDir) {
			Expect(before).To(HaveKey(pid), "left behind by the second cluster: %s", cmd)
		}
		Expect(netnsNames()).To(Equal(netnsBefore), "network namespaces after Stop")
		Expect(mountsUnder(stateDir)).To(BeEmpty())
		Expect(routesTo(second.PodCIDR().String())).To(BeEmpty())
		// The first cluster still works.
		body, err := get("http://" + net.JoinHostPort(first.Status.PodIP, "8080") + "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(body)).To(Equal("twin"))

		// Started again on the same state directory (a second make demo),
		// the cluster starts empty: nothing of the stopped cluster's is in
		// its API server, and its node runs a pod of the same name anew.
		again, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), StateDir: stateDir, ImageArchives: images, Logger: GinkgoLogr})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(again.Stop()).To(Succeed()) })
		err = again.Client().Get(ctx, client.ObjectKey{Name: "twins"}, &corev1.Namespace{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the stopped cluster's namespace: %v", err)
		bareServer(ctx, again, "twins", "twin")
	}, NodeTimeout(6*time.Minute))
})

func pidIn(c *localcluster.Cluster, ns, name string) int {
	GinkgoHelper()
	procs, err := c.PodProcesses(ns, name)
	Expect(err).NotTo(HaveOccurred())
	Expect(procs).To(HaveKey("c"))
	return procs["c"]
}

// netnsNames lists the named network namespaces.
func netnsNames() []string {
	entries, _ := os.ReadDir("/run/netns")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// routesTo lists the host's routes to prefix.
func routesTo(prefix string) string {
	out, err := exec.Command("ip", "route", "show", prefix).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return strings.TrimSpace(string(out))
}
