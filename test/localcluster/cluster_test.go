package localcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/localcluster"
)

const (
	ns  = "harness"
	app = "web"
)

// echo is what the testpod binary reports on /echo.
type echo struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	PID  int      `json:"pid"`
}

// httpClient opens a new connection per request, so kube-proxy picks a
// backend for every request.
var httpClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func deployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": app}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name:  "server",
						Image: testpodImage,
						Args: []string{
							"--listen=$(POD_IP):8080", "--name=$(POD_NAME)", "--greeting=$(GREETING)",
							"--mode=$(MODE)", "--escaped=$$(POD_IP)", "--undefined=$(NOPE)",
						},
						Env: []corev1.EnvVar{
							{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "greeting"}, Key: "text"}}},
							{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
							{Name: "PLAIN", Value: "x-$(POD_NAME)"},
						},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
							PeriodSeconds:    1,
							TimeoutSeconds:   1,
							FailureThreshold: 2,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 2,
						},
					}},
				},
			},
		},
	}
}

// appPods returns the app's pods that are not terminating, by name.
func appPods(g Gomega) []corev1.Pod {
	ctx, cancel := ctxWithTimeout()
	defer cancel()
	var list corev1.PodList
	g.Expect(cluster.Client().List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": app})).To(Succeed())
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPods waits for exactly n ready pods, each running one live process,
// and returns them.
func readyPods(n int) []corev1.Pod {
	var pods []corev1.Pod
	Eventually(func(g Gomega) {
		pods = appPods(g)
		g.Expect(pods).To(HaveLen(n))
		for _, p := range pods {
			g.Expect(isReady(p)).To(BeTrue(), "pod %s not ready: %+v", p.Name, p.Status.ContainerStatuses)
			procs, err := cluster.PodProcesses(ns, p.Name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(procs).To(HaveKey("server"))
			g.Expect(alive(procs["server"])).To(BeTrue())
		}
	}).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
	return pods
}

// nodeIP is the node's InternalIP, every pod's hostIP.
func nodeIP(ctx context.Context) string {
	var node corev1.Node
	Expect(cluster.Client().Get(ctx, client.ObjectKey{Name: cluster.NodeName()}, &node)).To(Succeed())
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	Fail("the node has no InternalIP")
	return ""
}

func pidOf(p corev1.Pod) int {
	procs, err := cluster.PodProcesses(ns, p.Name)
	Expect(err).NotTo(HaveOccurred())
	return procs["server"]
}

func scale(replicas int32) {
	ctx, cancel := ctxWithTimeout()
	defer cancel()
	// A merge patch, as `kubectl scale` would: no conflict with the
	// deployment controller's own writes.
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app}}
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))
	Expect(cluster.Client().Patch(ctx, d, patch)).To(Succeed())
}

var _ = Describe("A local cluster", Ordered, func() {
	var serviceAddr string

	BeforeAll(func() {
		ctx, cancel := ctxWithTimeout()
		defer cancel()
		c := cluster.Client()
		Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "greeting", Namespace: ns},
			StringData: map[string]string{"text": "hello"}})).To(Succeed())
		Expect(c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns},
			Data: map[string]string{"mode": "fast"}})).To(Succeed())
		Expect(c.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": app},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		})).To(Succeed())
	})

	It("installs the CRDs it was given", func(ctx SpecContext) {
		var crd apiextensionsv1.CustomResourceDefinition
		Expect(cluster.Client().Get(ctx, client.ObjectKey{Name: "widgets.example.cacheops.io"}, &crd)).To(Succeed())
	})

	It("registers a ready node", func(ctx SpecContext) {
		var node corev1.Node
		Expect(cluster.Client().Get(ctx, client.ObjectKey{Name: cluster.NodeName()}, &node)).To(Succeed())
		Expect(node.Status.Conditions).To(ContainElement(And(
			HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
		Expect(node.Status.Allocatable).To(HaveKey(corev1.ResourcePods))
	})

	It("runs a Deployment's pods as ready containers, each with its own IP from the pod range", func(ctx SpecContext) {
		began := time.Now()
		Expect(cluster.Client().Create(ctx, deployment(3))).To(Succeed())
		pods := readyPods(3)
		AddReportEntry("deployment to 3 ready pods", time.Since(began).Round(time.Millisecond).String())

		ips := map[string]bool{}
		for _, p := range pods {
			ip := netip.MustParseAddr(p.Status.PodIP)
			Expect(cluster.PodCIDR().Contains(ip)).To(BeTrue(), "pod IP %s outside %s", ip, cluster.PodCIDR())
			Expect(p.Status.PodIPs).To(Equal([]corev1.PodIP{{IP: p.Status.PodIP}}))
			Expect(p.Status.HostIP).To(Equal(nodeIP(ctx)))
			Expect(p.Spec.NodeName).To(Equal(cluster.NodeName()))
			Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			cs := p.Status.ContainerStatuses[0]
			Expect(cs.State.Running).NotTo(BeNil())
			Expect(*cs.Started).To(BeTrue())
			ips[p.Status.PodIP] = true
		}
		Expect(ips).To(HaveLen(3))
	})

	It("resolves env and args as the kubelet does", func() {
		for _, p := range readyPods(3) {
			body, err := get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/echo")
			Expect(err).NotTo(HaveOccurred())
			var e echo
			Expect(json.Unmarshal([]byte(body), &e)).To(Succeed())
			Expect(e.Args).To(Equal([]string{
				"--listen=" + p.Status.PodIP + ":8080", "--name=" + p.Name, "--greeting=hello",
				"--mode=fast", "--escaped=$(POD_IP)", "--undefined=$(NOPE)",
			}))
			Expect(e.Env).To(ContainElements(
				"POD_IP="+p.Status.PodIP, "POD_NAME="+p.Name, "GREETING=hello", "MODE=fast",
				"PLAIN=x-"+p.Name, "HOSTNAME="+p.Name))
			Expect(e.Env).To(ContainElement("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "the image's environment")
			Expect(e.Env).NotTo(ContainElement(HavePrefix("KUBEBUILDER_ASSETS=")), "the harness's environment leaked into a pod")
			Expect(e.PID).To(Equal(1), "the container has its own PID namespace")
			Expect(localcluster.NSPID(pidOf(p))).To(Equal(1), "PodProcesses gives the host pid of the container's PID 1")
		}
	})

	It("writes each pod's output to its log file", func() {
		p := readyPods(3)[0]
		path, err := cluster.PodLogPath(ns, p.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(path).To(HaveSuffix(ns + "_" + p.Name + "_" + string(p.UID) + "/server/0.log"))
		Eventually(func() (string, error) {
			b, err := os.ReadFile(path)
			return string(b), err
		}).Should(ContainSubstring("listening on " + p.Status.PodIP + ":8080"))
	})

	It("spreads a Service's connections over the ready pods through kube-proxy", func(ctx SpecContext) {
		pods := readyPods(3)
		Eventually(func(g Gomega) {
			var err error
			serviceAddr, err = cluster.ServiceAddress(ns, app, 80)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cluster.ServiceBackends(ns, app, 80)).To(HaveLen(3))
		}).Should(Succeed())

		var svc corev1.Service
		Expect(cluster.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: app}, &svc)).To(Succeed())
		Expect(serviceAddr).To(Equal(net.JoinHostPort(svc.Spec.ClusterIP, "80")))
		Expect(cluster.ServiceCIDR().Contains(netip.MustParseAddr(svc.Spec.ClusterIP))).To(BeTrue())

		// kube-proxy's iptables rules pick a backend at random, and follow
		// the EndpointSlice within its sync period: every pod answers soon.
		want := map[string]bool{}
		for _, p := range pods {
			want[p.Name] = true
		}
		seen := map[string]bool{}
		Eventually(func(g Gomega) {
			body, err := get("http://" + serviceAddr + "/")
			g.Expect(err).NotTo(HaveOccurred())
			seen[strings.TrimSpace(body)] = true
			g.Expect(seen).To(Equal(want))
		}).WithTimeout(time.Minute).WithPolling(10 * time.Millisecond).Should(Succeed())
	})

	It("stops a deleted pod's process and lets the ReplicaSet replace it", func(ctx SpecContext) {
		pods := readyPods(3)
		victim := pods[0]
		pid := pidOf(victim)
		Expect(cluster.Client().Delete(ctx, &victim)).To(Succeed())

		Eventually(func() bool { return alive(pid) }).WithTimeout(time.Minute).Should(BeFalse())
		Eventually(func() bool {
			err := cluster.Client().Get(ctx, client.ObjectKeyFromObject(&victim), &corev1.Pod{})
			return apierrors.IsNotFound(err)
		}).WithTimeout(10*time.Second).Should(BeTrue(), "the kubelet did not finalise the deletion")

		replaced := readyPods(3)
		Expect(replaced).NotTo(ContainElement(HaveField("Name", victim.Name)))
	})

	It("restarts a killed pod's container, counting the restart", func(ctx SpecContext) {
		victim := readyPods(3)[1]
		oldPID := pidOf(victim)
		Expect(cluster.KillPod(ns, victim.Name)).To(Succeed())

		Eventually(func(g Gomega) {
			var p corev1.Pod
			g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(&victim), &p)).To(Succeed())
			cs := p.Status.ContainerStatuses[0]
			g.Expect(cs.RestartCount).To(BeEquivalentTo(1))
			g.Expect(cs.LastTerminationState.Terminated).NotTo(BeNil())
			g.Expect(cs.LastTerminationState.Terminated.ExitCode).To(BeEquivalentTo(137))
			g.Expect(cs.State.Running).NotTo(BeNil())
			g.Expect(isReady(p)).To(BeTrue())
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(alive(oldPID)).To(BeFalse())
		Expect(pidOf(victim)).NotTo(Equal(oldPID))
	})

	It("takes a paused pod out of the Service until it resumes", func(ctx SpecContext) {
		victim := readyPods(3)[2]
		Expect(cluster.PausePod(ns, victim.Name)).To(Succeed())
		DeferCleanup(func() { _ = cluster.ResumePod(ns, victim.Name) })

		notReady := func(g Gomega) {
			var p corev1.Pod
			g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(&victim), &p)).To(Succeed())
			g.Expect(isReady(p)).To(BeFalse())
			g.Expect(cluster.ServiceBackends(ns, app, 80)).To(HaveLen(2))
		}
		Eventually(notReady).WithTimeout(time.Minute).Should(Succeed())

		Expect(cluster.ResumePod(ns, victim.Name)).To(Succeed())
		readyPods(3)
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).Should(HaveLen(3))
	})

	It("drops a partitioned pod's traffic until it is healed", func(ctx SpecContext) {
		victim := readyPods(3)[0]
		addr := "http://" + net.JoinHostPort(victim.Status.PodIP, "8080") + "/"
		Expect(cluster.PartitionPod(ns, victim.Name)).To(Succeed())
		DeferCleanup(func() { _ = cluster.HealPod(ns, victim.Name) })
		_, err := get(addr)
		Expect(err).To(MatchError(ContainSubstring("Client.Timeout")), "a partition drops packets: nothing refuses, the client times out")
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).
			WithTimeout(20*time.Second).Should(HaveLen(2), "the kubelet's probes are dropped too")

		Expect(cluster.HealPod(ns, victim.Name)).To(Succeed())
		Eventually(func() error { _, err := get(addr); return err }).Should(Succeed())
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).WithTimeout(time.Minute).Should(HaveLen(3))
	})

	It("scales from 3 to 5 and back", func() {
		scale(5)
		five := readyPods(5)
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).Should(HaveLen(5))

		pids := map[string]int{}
		for _, p := range five {
			pids[p.Name] = pidOf(p)
		}
		scale(3)
		three := readyPods(3)
		for name, pid := range pids {
			if !slices.ContainsFunc(three, func(p corev1.Pod) bool { return p.Name == name }) {
				Eventually(func() bool { return alive(pid) }).WithTimeout(10*time.Second).Should(BeFalse(), "pod %s's process outlived the scale-down", name)
			}
		}
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).Should(HaveLen(3))
	})

	It("leaves a pod whose image was not imported waiting with ErrImageNeverPull", func(ctx SpecContext) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "unknown-image", Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "docker.io/library/nginx:1.27",
				ImagePullPolicy: corev1.PullNever}}},
		}
		Expect(cluster.Client().Create(ctx, pod)).To(Succeed())
		Eventually(func(g Gomega) {
			var p corev1.Pod
			g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(pod), &p)).To(Succeed())
			g.Expect(p.Status.Phase).To(Equal(corev1.PodPending))
			g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
			w := p.Status.ContainerStatuses[0].State.Waiting
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(Equal("ErrImageNeverPull"))
			g.Expect(w.Message).To(ContainSubstring(`"docker.io/library/nginx:1.27"`))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(cluster.Client().Delete(ctx, pod)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(cluster.Client().Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
		}).WithTimeout(time.Minute).Should(BeTrue())
	})

	It("garbage-collects the pods of a deleted Deployment and stops their processes", func(ctx SpecContext) {
		var pids []int
		for _, p := range readyPods(3) {
			pids = append(pids, pidOf(p))
		}
		Expect(cluster.Client().Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns}},
			client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())

		Eventually(func(g Gomega) {
			var list corev1.PodList
			g.Expect(cluster.Client().List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": app})).To(Succeed())
			g.Expect(list.Items).To(BeEmpty())
		}).WithTimeout(time.Minute).Should(Succeed())
		for _, pid := range pids {
			Expect(alive(pid)).To(BeFalse(), "process %d outlived its pod", pid)
		}
		Eventually(func() []string { return cluster.ServiceBackends(ns, app, 80) }).Should(BeEmpty())
	})
})
