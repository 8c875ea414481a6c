package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// controlPlaneStartTimeout bounds the wait for the API server to be ready;
// a two-core machine that is also compiling needs more than the usual 20s.
const controlPlaneStartTimeout = 2 * time.Minute

// The identities of the control plane and the node, signed by the
// cluster's own CA.
func (c *Cluster) identities() []identity {
	s := c.slot
	return []identity{
		{file: "apiserver", cn: "kube-apiserver",
			ips:   []net.IP{s.hostIP().AsSlice(), s.kubernetesServiceIP().AsSlice(), net.IPv4(127, 0, 0, 1)},
			names: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{file: "admin", cn: "admin", groups: []string{"system:masters"}},
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", groups: []string{"system:masters"}},
		{file: "kube-controller-manager", cn: "system:kube-controller-manager"},
		{file: "kube-scheduler", cn: "system:kube-scheduler"},
		{file: "kube-proxy", cn: "system:kube-proxy"},
		{file: "kubelet", cn: "system:node:" + c.opts.NodeName, groups: []string{"system:nodes"}},
		{file: "kubelet-serving", cn: c.opts.NodeName, ips: []net.IP{s.nodeIP().AsSlice()}, names: []string{c.opts.NodeName}},
	}
}

// writePKI writes the CA, every certificate, the ServiceAccount key and a
// kubeconfig per client; the admin one is KubeconfigPath.
func (c *Cluster) writePKI() error {
	p, err := newPKI(c.pkiDir())
	if err != nil {
		return err
	}
	for i, id := range c.identities() {
		if err := p.issue(id, int64(i+2)); err != nil {
			return err
		}
		if len(id.ips) == 0 {
			path := p.path(id.file + ".kubeconfig")
			if id.file == "admin" {
				path = c.kubeconfigPath
			}
			if err := p.kubeconfig(id, c.apiServerURL(), path); err != nil {
				return err
			}
		}
	}
	return p.serviceAccountKey()
}

func (c *Cluster) pkiDir() string { return filepath.Join(c.opts.StateDir, "pki") }
func (c *Cluster) pki(name string) string {
	return filepath.Join(c.pkiDir(), name)
}

// apiServerURL is where the API server listens: the host's end of the
// node's link, so the kubelet, kube-proxy and pods reach it as the host does.
func (c *Cluster) apiServerURL() string {
	return "https://" + net.JoinHostPort(c.slot.hostIP().String(), "6443")
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd starts etcd on two free loopback ports, without fsync: the
// cluster lives as long as a test. Its data starts empty: what an earlier
// cluster on the same state directory stored (its pods, its node's
// objects, a demo's CacheProxies) belongs to a cluster that is gone.
func (c *Cluster) startEtcd() (string, error) {
	dataDir := filepath.Join(c.opts.StateDir, "etcd")
	if err := os.RemoveAll(dataDir); err != nil {
		return "", fmt.Errorf("removing an earlier cluster's etcd data: %w", err)
	}
	client, err := freePort()
	if err != nil {
		return "", err
	}
	peer, err := freePort()
	if err != nil {
		return "", err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(client)
	_, err = c.startComponent("etcd", filepath.Join(c.opts.BinDir, "etcd"),
		"--data-dir="+dataDir,
		"--listen-client-urls="+url, "--advertise-client-urls="+url,
		"--listen-peer-urls=http://127.0.0.1:"+strconv.Itoa(peer),
		"--unsafe-no-fsync=true", "--quota-backend-bytes=8589934592")
	return url, err
}

// startAPIServer starts kube-apiserver as a cluster would run it: Node and
// RBAC authorization, ServiceAccount admission on (envtest turns it off),
// NodeRestriction, and the kubelet reached by its InternalIP (the node's
// name resolves nowhere).
func (c *Cluster) startAPIServer(etcdURL string) error {
	s := c.slot
	_, err := c.startComponent("kube-apiserver", filepath.Join(c.opts.BinDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address="+s.hostIP().String(), "--advertise-address="+s.hostIP().String(), "--secure-port=6443",
		"--tls-cert-file="+c.pki("apiserver.crt"), "--tls-private-key-file="+c.pki("apiserver.key"),
		"--client-ca-file="+c.pki("ca.crt"),
		"--kubelet-client-certificate="+c.pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+c.pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority="+c.pki("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+c.pki("sa.pub"),
		"--service-account-signing-key-file="+c.pki("sa.key"),
		"--service-cluster-ip-range="+s.serviceCIDR().String(),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--cert-dir="+c.pkiDir(),
		// Without it the API server waits minutes for a rollout nobody does.
		"--shutdown-delay-duration=0s")
	return err
}

// waitAPIServer returns once /readyz answers ok, or fails early when the
// API server exits.
func (c *Cluster) waitAPIServer(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, controlPlaneStartTimeout)
	defer cancel()
	var last error // the last answer, for a timeout's error
	err := c.poll(ctx, "kube-apiserver to be ready", []string{"etcd", "kube-apiserver"}, func(ctx context.Context) (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && strings.TrimSpace(string(body)) != "ok" {
			err = fmt.Errorf("/readyz: %s", body)
		}
		if err != nil && ctx.Err() == nil {
			last = err
		}
		return err == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last answer: %w)", err, last)
	}
	return err
}

// startControllerManager runs the controllers of Options.Controllers, with
// the root CA published for projected ServiceAccount tokens.
func (c *Cluster) startControllerManager() error {
	_, err := c.startComponent("kube-controller-manager", filepath.Join(c.opts.BinDir, "kube-controller-manager"),
		"--kubeconfig="+c.pki("kube-controller-manager.kubeconfig"),
		"--authentication-kubeconfig="+c.pki("kube-controller-manager.kubeconfig"),
		"--authorization-kubeconfig="+c.pki("kube-controller-manager.kubeconfig"),
		"--leader-elect=false", "--secure-port=0",
		"--use-service-account-credentials=true",
		"--root-ca-file="+c.pki("ca.crt"),
		"--service-account-private-key-file="+c.pki("sa.key"),
		"--cluster-cidr="+c.slot.podCIDR().String(),
		"--controllers="+strings.Join(c.opts.Controllers, ","))
	return err
}

// startScheduler runs kube-scheduler.
func (c *Cluster) startScheduler() error {
	_, err := c.startComponent("kube-scheduler", filepath.Join(c.opts.BinDir, "kube-scheduler"),
		"--kubeconfig="+c.pki("kube-scheduler.kubeconfig"),
		"--authentication-kubeconfig="+c.pki("kube-scheduler.kubeconfig"),
		"--authorization-kubeconfig="+c.pki("kube-scheduler.kubeconfig"),
		"--leader-elect=false", "--secure-port=0")
	return err
}
