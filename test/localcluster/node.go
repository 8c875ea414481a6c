package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pauseImage is the sandbox image containerd starts for every pod; one of
// Options.ImageArchives must hold it (make images builds it from
// Kubernetes' own pause.c).
const pauseImage = "registry.k8s.io/pause:3.10.2"

// cniPluginDir is where Debian's containernetworking-plugins puts them.
const cniPluginDir = "/usr/lib/cni"

// The node's paths, all under the state directory but for the sockets,
// whose paths must stay short (see runDir).
func (c *Cluster) nodeDir(elem ...string) string {
	return filepath.Join(append([]string{c.opts.StateDir, "node"}, elem...)...)
}
func (c *Cluster) containerdSocket() string { return filepath.Join(c.slot.dir(), "containerd.sock") }

// PodLogsDir is where the kubelet of the cluster whose state is in
// stateDir writes its containers' output (what `kubectl logs` reads):
// <ns>_<pod>_<uid>/<container>/<restarts>.log. It stays after Stop.
func PodLogsDir(stateDir string) string { return filepath.Join(stateDir, "node", "pod-logs") }

func (c *Cluster) podLogsDir() string { return PodLogsDir(c.opts.StateDir) }

// startContainerd writes containerd's and the CNI configuration and starts
// containerd in the node's network namespace. containerd has its own root,
// state and socket, so it is independent of any containerd of the host.
func (c *Cluster) startContainerd(ctx context.Context) error {
	for _, dir := range []string{c.nodeDir("containerd"), c.nodeDir("cni", "net.d"), c.nodeDir("kubelet"), c.podLogsDir()} {
		if err := ensureDir(dir); err != nil {
			return err
		}
	}
	if err := os.WriteFile(c.nodeDir("containerd", "config.toml"), []byte(c.containerdConfig()), 0o644); err != nil {
		return fmt.Errorf("writing containerd config: %w", err)
	}
	if err := os.WriteFile(c.nodeDir("cni", "net.d", "10-bridge.conflist"), []byte(c.cniConfig()), 0o644); err != nil {
		return fmt.Errorf("writing CNI config: %w", err)
	}
	if _, err := c.startNodeComponent("containerd", "containerd", "--config", c.nodeDir("containerd", "config.toml")); err != nil {
		return err
	}
	return c.poll(ctx, "containerd to answer", []string{"containerd"}, func(ctx context.Context) (bool, error) {
		return exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "version").Run() == nil, nil
	})
}

// containerdConfig is containerd 1.6's configuration: cgroupfs (no
// systemd on these machines), overlayfs, runc, CNI from our directories;
// oom_score_adj clamped instead of refused (no CAP_SYS_RESOURCE in some
// sandboxes); AppArmor off (absent from the kernel).
func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[8]q
`, c.nodeDir("containerd", "root"), c.nodeDir("containerd", "state"), c.containerdSocket(), c.containerdSocket()+".ttrpc",
		pauseImage, cniPluginDir, c.nodeDir("cni", "net.d"), c.nodeDir("containerd", "runc"))
}

// cniConfig puts pods on one bridge with addresses from the pod range;
// hairpin lets a pod reach itself through its own Service.
func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
`, c.nodeDir("cni", "ipam"), c.slot.podCIDR())
}

// importImages loads every archive into containerd's k8s.io namespace,
// where the kubelet finds images.
func (c *Cluster) importImages(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.opts.ImageArchives))
	for i, archive := range c.opts.ImageArchives {
		wg.Go(func() {
			out, err := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "--namespace", "k8s.io",
				"images", "import", "--no-unpack=false", archive).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("importing image %s: %w: %s", archive, err, strings.TrimSpace(string(out)))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "--namespace", "k8s.io", "images", "ls", "-q").Output()
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	if !strings.Contains("\n"+string(out), "\n"+pauseImage+"\n") {
		return fmt.Errorf("no image archive holds %s, which every pod needs (make images builds bin/images/pause.tar)", pauseImage)
	}
	return nil
}

// startKubelet writes the kubelet's configuration and starts it in the
// node's network namespace. What each setting is for:
//   - failCgroupV1: false: these machines have cgroup v1 (hybrid), which
//     kubelet 1.37 refuses by default and a later release drops;
//   - cgroupRoot: the slot's own cgroup, so pods of clusters side by side
//     and their cleanup never mix;
//   - oomScoreAdj 0 and no swap check: what a sandbox without
//     CAP_SYS_RESOURCE allows;
//   - image GC off: the images were imported, nothing can pull them back;
//   - eviction thresholds low: the machine's disk is shared and not ours;
//   - podLogsDir and volumePluginDir: under the state directory instead of
//     /var/log/pods and /usr/libexec (the kubelet ignores a misspelt field
//     silently, so these names were checked against its strict decoder);
//   - resolvConf: the node's DNS is the cluster's (clusterDNS), never the
//     host's resolver, which the node cannot reach;
//   - protectKernelDefaults false: the kubelet sets three host-wide
//     sysctls (hostSettings restores them when the last cluster stops).
func (c *Cluster) startKubelet() error {
	resolv := c.nodeDir("kubelet", "resolv.conf")
	if err := os.WriteFile(resolv, nil, 0o644); err != nil {
		return fmt.Errorf("writing resolv.conf: %w", err)
	}
	for _, h := range cgroupHierarchies() {
		if err := ensureDir(filepath.Join(h, c.slot.cgroupRoot())); err != nil {
			return err
		}
	}
	if err := seedCpuset(c.slot.cgroupRoot()); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%s
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: %s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: %s}}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [%s]
resolvConf: %s
oomScoreAdj: 0
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, nodefs.inodesFree: 1%%, imagefs.available: 1%%}
serializeImagePulls: false
podLogsDir: %s
volumePluginDir: %s
syncFrequency: 10s
fileCheckFrequency: 1h
`, c.slot.cgroupRoot(), c.containerdSocket(), c.slot.nodeIP(), c.pki("kubelet-serving.crt"), c.pki("kubelet-serving.key"),
		c.pki("ca.crt"), c.slot.dnsServiceIP(), resolv, c.podLogsDir(), c.nodeDir("kubelet", "volume-plugins"))
	path := c.nodeDir("kubelet", "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing kubelet config: %w", err)
	}
	_, err := c.startNodeComponent("kubelet", filepath.Join(c.opts.BinDir, "kubelet"),
		"--config="+path, "--kubeconfig="+c.pki("kubelet.kubeconfig"),
		"--hostname-override="+c.opts.NodeName, "--node-ip="+c.slot.nodeIP().String(),
		"--root-dir="+c.nodeDir("kubelet", "root"))
	return err
}

// startKubeProxy runs kube-proxy in iptables mode in the node's network
// namespace; its rules never reach the host's. Conntrack limits stay as
// the kernel has them (kube-proxy would change host-wide ones).
func (c *Cluster) startKubeProxy() error {
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: %s}
hostnameOverride: %s
clusterCIDR: %s
nodePortAddresses: [primary]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, c.pki("kube-proxy.kubeconfig"), c.opts.NodeName, c.slot.podCIDR())
	path := c.nodeDir("kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing kube-proxy config: %w", err)
	}
	_, err := c.startNodeComponent("kube-proxy", filepath.Join(c.opts.BinDir, "kube-proxy"), "--config="+path)
	return err
}

// waitNode returns once the node is Ready without taints (the
// node-lifecycle controller removes the not-ready one) and the default
// ServiceAccount exists, so a pod created now is scheduled and runs.
func (c *Cluster) waitNode(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, controlPlaneStartTimeout)
	defer cancel()
	return c.poll(ctx, "the node to be Ready and schedulable", []string{"kube-apiserver", "containerd", "kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler"},
		func(ctx context.Context) (bool, error) {
			node, err := cs.CoreV1().Nodes().Get(ctx, c.opts.NodeName, metav1.GetOptions{})
			if err != nil || len(node.Spec.Taints) > 0 {
				return false, nil
			}
			ready := false
			for _, cond := range node.Status.Conditions {
				ready = ready || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
			}
			if !ready {
				return false, nil
			}
			_, err = cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		})
}
