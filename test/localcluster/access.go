package localcluster

import (
	"path/filepath"

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

// LogPath is the log file of a component: "etcd", "kube-apiserver",
// "kube-controller-manager", "kube-scheduler", "containerd", "kubelet",
// "kube-proxy", or a host process's name.
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.logDir(), component+".log")
}

// KubectlPath is the kubectl binary next to the control plane's.
func (c *Cluster) KubectlPath() string { return filepath.Join(c.opts.BinDir, "kubectl") }

// NodeName is the name of the one Node.
func (c *Cluster) NodeName() string { return c.opts.NodeName }
