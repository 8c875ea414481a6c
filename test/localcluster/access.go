package localcluster

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KubeconfigPath is the admin kubeconfig (a user in system:masters), for
// `kubectl --kubeconfig` and `bin/manager --kubeconfig`.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfigPath }

// RESTConfig returns a copy of the admin REST config.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Client is a controller-runtime client with Options.Scheme.
func (c *Cluster) Client() client.Client { return c.client }

// Clientset is a client-go clientset for built-in kinds.
func (c *Cluster) Clientset() kubernetes.Interface { return c.clientset }

// StateDir is where the kubeconfig and all logs are.
func (c *Cluster) StateDir() string { return c.opts.StateDir }

// LogPath is the log file of a control-plane component: "etcd",
// "kube-apiserver", "kube-controller-manager", or a host process's name.
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.logDir(), component+".log")
}

// KubectlPath is the kubectl binary next to the control plane's.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.opts.BinDir, "kubectl") }

// NodeName is the name of the one Node.
func (c *Cluster) NodeName() string { return c.opts.NodeName }

// ServiceCIDR is the loopback range ClusterIPs come from.
func (c *Cluster) ServiceCIDR() netip.Prefix { return c.serviceCIDR }

// PodCIDR is the loopback range pod IPs come from.
func (c *Cluster) PodCIDR() netip.Prefix { return c.podCIDR }

// ServiceAddress returns "clusterIP:port", where the service proxy spreads
// connections over the Service's ready pods. It fails until the proxy
// listens there (right after the Service is created), so call it inside
// Eventually.
func (c *Cluster) ServiceAddress(namespace, name string, port int32) (string, error) {
	return c.proxy.address(namespace, name, port)
}

// ServiceBackends returns the pod addresses a service port currently
// spreads connections over, in pod name order.
func (c *Cluster) ServiceBackends(namespace, name string, port int32) []string {
	return c.proxy.backends(namespace, name, port)
}

// PodLogPath returns the file a pod's containers write stdout and stderr
// to, appended across restarts. Files stay after the pod is gone, as
// <StateDir>/pods/<namespace>_<name>_<uid>.log, but this lookup needs the
// pod to exist.
func (c *Cluster) PodLogPath(namespace, name string) (string, error) {
	pod, err := c.pods.Pods(namespace).Get(name)
	if err != nil {
		return "", fmt.Errorf("finding pod %s/%s: %w", namespace, name, err)
	}
	return c.agent.podLogPath(pod), nil
}

// PodProcesses returns the process id of each running container of a pod,
// by container name.
func (c *Cluster) PodProcesses(namespace, name string) (map[string]int, error) {
	return c.agent.podProcesses(namespace, name)
}

// KillPod kills every running container process of a pod with SIGKILL, as
// a crashed container: the node agent reports it terminated (exit code 137)
// and restarts it according to the pod's restartPolicy.
func (c *Cluster) KillPod(namespace, name string) error {
	return c.agent.signalPod(namespace, name, syscall.SIGKILL)
}

// PausePod freezes every container process of a pod with SIGSTOP, as a
// hung container: connections are accepted by the kernel but never
// answered, and probes time out. ResumePod undoes it.
func (c *Cluster) PausePod(namespace, name string) error {
	return c.agent.signalPod(namespace, name, syscall.SIGSTOP)
}

// ResumePod continues a paused pod's processes with SIGCONT.
func (c *Cluster) ResumePod(namespace, name string) error {
	return c.agent.signalPod(namespace, name, syscall.SIGCONT)
}
