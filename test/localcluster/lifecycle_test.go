package localcluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// podNamed creates a bare pod of the testpod image in namespace "lifecycle"
// and returns a function that fetches its current state.
func podNamed(ctx SpecContext, name string, mutate func(*corev1.Pod)) func(Gomega) corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lifecycle"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](2),
			Containers: []corev1.Container{{
				Name:  "c",
				Image: "testpod",
				Args:  []string{"--listen=$(POD_IP):8080"},
				Env: []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
			}},
		},
	}
	mutate(pod)
	Expect(cluster.Client().Create(ctx, pod)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(client.IgnoreNotFound(cluster.Client().Delete(ctx, pod))).To(Succeed())
	})
	return func(g Gomega) corev1.Pod {
		var p corev1.Pod
		g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(pod), &p)).To(Succeed())
		g.Expect(p.Status.ContainerStatuses).To(HaveLen(1))
		return p
	}
}

var _ = Describe("The node agent", func() {
	BeforeEach(func(ctx SpecContext) {
		err := cluster.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lifecycle"}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	})

	It("backs off a container that keeps exiting, as CrashLoopBackOff", func(ctx SpecContext) {
		current := podNamed(ctx, "crasher", func(p *corev1.Pod) { p.Spec.Containers[0].Args = nil })
		Eventually(func(g Gomega) {
			cs := current(g).Status.ContainerStatuses[0]
			g.Expect(cs.RestartCount).To(BeNumerically(">=", 1))
			g.Expect(cs.State.Waiting).NotTo(BeNil())
			g.Expect(cs.State.Waiting.Reason).To(Equal("CrashLoopBackOff"))
			g.Expect(cs.LastTerminationState.Terminated).NotTo(BeNil())
			g.Expect(cs.LastTerminationState.Terminated.ExitCode).To(BeEquivalentTo(2))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("fails a pod whose container exits with restartPolicy Never", func(ctx SpecContext) {
		current := podNamed(ctx, "one-shot", func(p *corev1.Pod) {
			p.Spec.Containers[0].Args = nil
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
		})
		Eventually(func(g Gomega) {
			p := current(g)
			g.Expect(p.Status.Phase).To(Equal(corev1.PodFailed))
			g.Expect(p.Status.ContainerStatuses[0].RestartCount).To(BeZero())
			g.Expect(p.Status.ContainerStatuses[0].State.Terminated.Reason).To(Equal("Error"))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	It("restarts a container that fails its liveness probe", func(ctx SpecContext) {
		current := podNamed(ctx, "unhealthy", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/no-such-health-check", Port: intstr.FromInt32(8080)}},
				PeriodSeconds:    1,
				FailureThreshold: 2,
			}
		})
		Eventually(func(g Gomega) {
			cs := current(g).Status.ContainerStatuses[0]
			g.Expect(cs.RestartCount).To(BeNumerically(">=", 1))
			g.Expect(cs.LastTerminationState.Terminated).NotTo(BeNil())
		}).WithTimeout(20 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			var events corev1.EventList
			g.Expect(cluster.Client().List(ctx, &events, client.InNamespace("lifecycle"))).To(Succeed())
			g.Expect(events.Items).To(ContainElement(And(
				HaveField("InvolvedObject.Name", "unhealthy"),
				HaveField("Reason", "Killing"),
				HaveField("Message", ContainSubstring("failed liveness probe")))))
		}).Should(Succeed())
	})

	It("holds a container whose Secret is missing in CreateContainerConfigError", func(ctx SpecContext) {
		current := podNamed(ctx, "no-secret", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "token"}}})
		})
		Eventually(func(g Gomega) {
			w := current(g).Status.ContainerStatuses[0].State.Waiting
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(Equal("CreateContainerConfigError"))
			g.Expect(w.Message).To(ContainSubstring(`"absent"`))
		}).Should(Succeed())
	})

	It("leaves a pod whose nodeSelector the node does not match unscheduled", func(ctx SpecContext) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "picky", Namespace: "lifecycle"},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"disktype": "ssd"},
				Containers:   []corev1.Container{{Name: "c", Image: "testpod"}},
			},
		}
		Expect(cluster.Client().Create(ctx, pod)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(cluster.Client().Delete(ctx, pod)).To(Succeed()) })
		Eventually(func(g Gomega) {
			var p corev1.Pod
			g.Expect(cluster.Client().Get(ctx, client.ObjectKeyFromObject(pod), &p)).To(Succeed())
			g.Expect(p.Spec.NodeName).To(BeEmpty())
			g.Expect(p.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.PodScheduled),
				HaveField("Status", corev1.ConditionFalse),
				HaveField("Reason", corev1.PodReasonUnschedulable))))
		}).Should(Succeed())
	})

	It("refuses a command other than the image's binary", func(ctx SpecContext) {
		current := podNamed(ctx, "shell", func(p *corev1.Pod) {
			p.Spec.Containers[0].Command = []string{"/bin/sh", "-c", "echo hi"}
		})
		Eventually(func(g Gomega) {
			w := current(g).Status.ContainerStatuses[0].State.Waiting
			g.Expect(w).NotTo(BeNil())
			g.Expect(w.Reason).To(Equal("CreateContainerError"))
		}).Should(Succeed())
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
	It("gets its own address ranges and cannot share a state directory", func(ctx SpecContext) {
		_, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), StateDir: cluster.StateDir()})
		Expect(err).To(MatchError(ContainSubstring("in use by another local cluster")))

		stateDir := GinkgoT().TempDir()
		before := processes()
		second, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), StateDir: stateDir, Logger: GinkgoLogr})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(second.Stop()).To(Succeed())
			for pid, cmd := range processes(stateDir) {
				Expect(before).To(HaveKey(pid), "left behind by the second cluster: %s", cmd)
			}
		})
		ranges := []string{cluster.ServiceCIDR().String(), cluster.PodCIDR().String(), second.ServiceCIDR().String(), second.PodCIDR().String()}
		seen := map[string]bool{}
		for _, r := range ranges {
			Expect(seen).NotTo(HaveKey(r), "ranges %v overlap", ranges)
			seen[r] = true
		}
		Expect(second.KubeconfigPath()).To(Equal(filepath.Join(stateDir, "kubeconfig")))
		Expect(strings.Contains(second.KubeconfigPath(), cluster.StateDir())).To(BeFalse())
	}, NodeTimeout(2*time.Minute))
})
