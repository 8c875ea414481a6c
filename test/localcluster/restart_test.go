package localcluster_test

import (
	"net"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The node's daemons restarted under running pods, as upgrades do.
var _ = Describe("Restarting the node's daemons", func() {
	// survives checks that pod p still runs the same container process,
	// with no restart, serving, and that the node still runs a new pod and
	// execs into the old one.
	survives := func(ctx SpecContext, p corev1.Pod, pid int, fresh string) {
		GinkgoHelper()
		Expect(alive(pid)).To(BeTrue(), "the container's process outlived the restart")
		Expect(pidIn(cluster, p.Namespace, p.Name)).To(Equal(pid))
		body, err := get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(body)).To(Equal(p.Name))
		Eventually(func(g Gomega) {
			var now corev1.Pod
			g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(&p), &now)).To(Succeed())
			g.Expect(isReady(now)).To(BeTrue())
			g.Expect(now.Status.ContainerStatuses[0].RestartCount).To(BeZero())
			g.Expect(now.Status.ContainerStatuses[0].ContainerID).To(Equal(p.Status.ContainerStatuses[0].ContainerID))
		}).WithContext(ctx).Should(Succeed())
		out, err := kubectl(ctx, cluster, "exec", "-n", p.Namespace, p.Name, "--", "/testpod", "--print-args", "after")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("--print-args\nafter\n"))
		bareServer(ctx, cluster, p.Namespace, fresh)
	}

	It("keeps containers running through a containerd restart; containerd takes them back from their shims", func(ctx SpecContext) {
		p := bareServer(ctx, cluster, "restart-containerd", "old")
		pid := pidIn(cluster, p.Namespace, p.Name)
		Expect(cluster.RestartContainerd(ctx)).To(Succeed())
		survives(ctx, p, pid, "new")
	})

	It("keeps containers running through a kubelet restart; the new kubelet adopts them", func(ctx SpecContext) {
		p := bareServer(ctx, cluster, "restart-kubelet", "old")
		pid := pidIn(cluster, p.Namespace, p.Name)
		Expect(cluster.RestartKubelet(ctx)).To(Succeed())
		survives(ctx, p, pid, "new")
	})
})

var _ = Describe("A container's memory cgroup", func() {
	It("holds the limit the kubelet set; a process beyond it is OOM-killed and counted, the container goes on", func(ctx SpecContext) {
		pod := serverPod("memory", "limited")
		limit := resource.MustParse("48Mi")
		pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: limit}}
		p := runReady(ctx, cluster, pod)
		base := "http://" + net.JoinHostPort(p.Status.PodIP, "8080")

		m, err := cluster.ContainerMemory(p.Namespace, p.Name, "c")
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Limit).To(Equal(limit.Value()))
		Expect(m.Usage).To(BeNumerically(">", 0))
		Expect(m.OOMKills).To(BeZero())

		// Within the limit: the child allocates and exits normally.
		Expect(get(base + "/hog?mib=8")).To(Equal("exit status 0\n"))
		// Beyond it: the kernel kills the child, the biggest process of the
		// cgroup, and the server answers how it ended.
		Expect(get(base + "/hog?mib=96")).To(Equal("signal: killed\n"))
		m, err = cluster.ContainerMemory(p.Namespace, p.Name, "c")
		Expect(err).NotTo(HaveOccurred())
		Expect(m.OOMKills).To(BeEquivalentTo(1))
		Expect(m.Peak).To(BeNumerically("<=", limit.Value()))
		Expect(m.Peak).To(BeNumerically(">", 8<<20))
		var now corev1.Pod
		Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(&p), &now)).To(Succeed())
		Expect(now.Status.ContainerStatuses[0].RestartCount).To(BeZero(), "the server itself was not killed")
	})
})
