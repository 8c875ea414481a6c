package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiTimeout bounds the API calls of the methods below.
const apiTimeout = 10 * time.Second

func (c *Cluster) getPod(namespace, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	pod, err := c.clientset.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("finding pod %s/%s: %w", namespace, name, err)
	}
	return pod, nil
}

// ServiceAddress returns "clusterIP:port" of a Service port. The host
// routes the Service range to the node, where kube-proxy sends each
// connection to a ready pod. It fails while the Service does not exist or
// has no ready endpoint, so call it inside Eventually.
func (c *Cluster) ServiceAddress(namespace, name string, port int32) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	svc, err := c.clientset.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("finding service %s/%s: %w", namespace, name, err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s/%s has no ClusterIP", namespace, name)
	}
	if len(c.ServiceBackends(namespace, name, port)) == 0 {
		return "", fmt.Errorf("service %s/%s port %d has no ready endpoint", namespace, name, port)
	}
	return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port))), nil
}

// ServiceBackends returns the ready "podIP:targetPort" addresses of a
// Service port, from its EndpointSlices (what kube-proxy spreads
// connections over), in pod name order.
func (c *Cluster) ServiceBackends(namespace, name string, port int32) []string {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	svc, err := c.clientset.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	portName := ""
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			portName = p.Name
		}
	}
	list, err := c.clientset.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + name,
	})
	if err != nil {
		return nil
	}
	type backend struct{ pod, addr string }
	var out []backend
	for _, s := range list.Items {
		for _, p := range s.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != portName) {
				continue
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || !*e.Conditions.Ready || len(e.Addresses) == 0 {
					continue
				}
				pod := ""
				if e.TargetRef != nil {
					pod = e.TargetRef.Name
				}
				out = append(out, backend{pod, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*p.Port)))})
			}
		}
	}
	sortBy(out, func(b backend) string { return b.pod + " " + b.addr })
	addrs := make([]string, len(out))
	for i, b := range out {
		addrs[i] = b.addr
	}
	return addrs
}

func sortBy[T any](s []T, key func(T) string) {
	slices.SortFunc(s, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

// PodLogPath returns the log file the kubelet writes for a pod's first
// container's current run: <StateDir>/node/pod-logs/<ns>_<name>_<uid>/
// <container>/<restarts>.log. Each line has the CRI prefix
// ("<RFC3339 time> stdout|stderr F|P "); `kubectl logs` strips it.
func (c *Cluster) PodLogPath(namespace, name string) (string, error) {
	pod, err := c.getPod(namespace, name)
	if err != nil {
		return "", err
	}
	if len(pod.Spec.Containers) == 0 {
		return "", fmt.Errorf("pod %s/%s has no container", namespace, name)
	}
	container := pod.Spec.Containers[0].Name
	restarts := int32(0)
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == container {
			restarts = s.RestartCount
		}
	}
	return filepath.Join(c.podLogsDir(), namespace+"_"+name+"_"+string(pod.UID), container, strconv.Itoa(int(restarts))+".log"), nil
}

// podCgroup returns the pod's cgroup directory in hierarchy.
func (c *Cluster) podCgroup(hierarchy string, pod *corev1.Pod) (string, error) {
	rel, err := findCgroup(hierarchy, c.slot.cgroupRoot(), "pod"+string(pod.UID))
	if err != nil {
		return "", fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return filepath.Join(hierarchy, rel), nil
}

// containerCgroups returns, by container name, the cgroup directory of
// each running container of the pod (the pause container excluded).
func (c *Cluster) containerCgroups(hierarchy string, pod *corev1.Pod) (map[string]string, error) {
	podDir, err := c.podCgroup(hierarchy, pod)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range pod.Status.ContainerStatuses {
		_, id, ok := strings.Cut(s.ContainerID, "://")
		if !ok || s.State.Running == nil {
			continue
		}
		dir := filepath.Join(podDir, id)
		if exists(dir) {
			out[s.Name] = dir
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pod %s/%s has no running container", pod.Namespace, pod.Name)
	}
	return out, nil
}

// PodProcesses returns the host process id of each running container's
// main process (its PID 1), by container name.
func (c *Cluster) PodProcesses(namespace, name string) (map[string]int, error) {
	pod, err := c.getPod(namespace, name)
	if err != nil {
		return nil, err
	}
	dirs, err := c.containerCgroups(pidsHierarchy(), pod)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for container, dir := range dirs {
		pids, err := cgroupProcs(dir)
		if err != nil {
			return nil, err
		}
		for _, pid := range pids {
			if nsPID(pid) == 1 {
				out[container] = pid
			}
		}
	}
	return out, nil
}

// nsPID is a process's id in its innermost PID namespace, or 0.
func nsPID(pid int) int {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// KillPod kills every process of every running container of a pod with
// SIGKILL, in the containers' cgroups, as the kernel's OOM killer or a
// crash would: the kubelet sees the containers exit (code 137) and
// restarts them as the pod's restartPolicy says. The pod keeps its IP. A
// pod PausePod froze is thawed after the signal, so it dies at once.
func (c *Cluster) KillPod(namespace, name string) error {
	pod, err := c.getPod(namespace, name)
	if err != nil {
		return err
	}
	dirs, err := c.containerCgroups(pidsHierarchy(), pod)
	if err != nil {
		return err
	}
	var errs []error
	for _, dir := range dirs {
		for _, pid := range treeProcs(dir) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("killing %d: %w", pid, err))
			}
		}
	}
	// A pod PausePod froze takes the signal only once thawed (cgroup v1):
	// thaw it after the signal, so its processes never run again.
	if dir, err := c.podCgroup(freezerHierarchy(), pod); err == nil {
		errs = append(errs, setFrozen(dir, false))
	}
	return errors.Join(errs...)
}

// PausePod freezes a whole pod with the cgroup freezer, as a hung machine
// or a stuck runtime would: the kernel still accepts connections for it,
// nothing answers, and probes time out. ResumePod thaws it.
func (c *Cluster) PausePod(namespace, name string) error {
	return c.freezePod(namespace, name, true)
}

// ResumePod thaws a pod PausePod froze.
func (c *Cluster) ResumePod(namespace, name string) error {
	return c.freezePod(namespace, name, false)
}

func (c *Cluster) freezePod(namespace, name string, frozen bool) error {
	pod, err := c.getPod(namespace, name)
	if err != nil {
		return err
	}
	dir, err := c.podCgroup(freezerHierarchy(), pod)
	if err != nil {
		return err
	}
	return setFrozen(dir, frozen)
}
