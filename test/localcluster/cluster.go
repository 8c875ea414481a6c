package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running local cluster. Its methods are safe for concurrent
// use. Stop it when done: nothing it started outlives Stop.
type Cluster struct {
	opts           Options
	log            logr.Logger
	kubeconfigPath string
	slot           slot

	lock       *os.File
	restConfig *rest.Config
	clientset  kubernetes.Interface
	client     client.Client
	spawner    *spawner

	compMu     sync.Mutex // guards components
	components []*component

	hostMu    sync.Mutex // guards hostProcs
	hostProcs map[*HostProcess]struct{}

	stopOnce sync.Once
	stopErr  error
}

// component is one process of the cluster, by name, with what started it
// (restartComponent starts it again the same way).
type component struct {
	name string
	spec processSpec
	proc *process // guarded by Cluster.compMu once in components
}

// Start brings up the whole cluster: the node's network namespace, the
// certificates, etcd, kube-apiserver, containerd with the images imported,
// kube-controller-manager, kube-scheduler, the kubelet and kube-proxy; it
// installs the CRDs and returns once the node is Ready and schedulable.
// ctx bounds the start only: the cluster runs until Stop. On error,
// whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster runs a real node (kubelet, containerd, network namespaces, cgroups), which needs root; run as root (make demo, make test and make bench do, through sudo when needed: hack/as-root.sh)")
	}
	c := &Cluster{
		opts:           opts,
		log:            opts.Logger,
		kubeconfigPath: filepath.Join(opts.StateDir, "kubeconfig"),
		hostProcs:      map[*HostProcess]struct{}{},
		spawner:        newSpawner(),
	}
	began := time.Now()
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	c.log.Info("Cluster started", "kubeconfig", c.kubeconfigPath, "serviceCIDR", c.ServiceCIDR(),
		"podCIDR", c.PodCIDR(), "took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	for _, dir := range []string{c.opts.StateDir, c.logDir()} {
		if err := ensureDir(dir); err != nil {
			return err
		}
	}
	if err := c.lockStateDir(); err != nil {
		return err
	}
	if err := c.claimSlot(ctx); err != nil {
		return err
	}
	if err := setUpNetwork(ctx, c.slot); err != nil {
		return err
	}
	if err := c.writePKI(); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	etcdURL, err := c.startEtcd()
	if err != nil {
		return err
	}
	if err := c.startAPIServer(etcdURL); err != nil {
		return err
	}
	// containerd and the images while the API server starts.
	nodeErr := make(chan error, 1)
	go func() {
		err := c.startContainerd(ctx)
		if err == nil {
			err = c.importImages(ctx)
		}
		nodeErr <- err
	}()
	if err := errors.Join(c.waitAPIServer(ctx, c.clientset), <-nodeErr); err != nil {
		return err
	}
	for _, start := range []func() error{c.startControllerManager, c.startScheduler, c.startKubelet, c.startKubeProxy} {
		if err := start(); err != nil {
			return err
		}
	}
	if len(c.opts.CRDDirectoryPaths) > 0 {
		if _, err := envtest.InstallCRDs(c.restConfig, envtest.CRDInstallOptions{
			Paths: c.opts.CRDDirectoryPaths, ErrorIfPathMissing: true,
		}); err != nil {
			return fmt.Errorf("installing CRDs: %w", err)
		}
	}
	if err := c.waitNode(ctx, c.clientset); err != nil {
		return err
	}
	dns, err := c.startDNS(ctx)
	if err != nil || !dns {
		return err
	}
	return c.waitDNS(ctx)
}

// claimSlot takes this cluster's share of the machine and records where
// its state lives, cleaning up after dead harnesses on the way.
func (c *Cluster) claimSlot(ctx context.Context) error {
	return withMachineLock(func() error {
		s, err := claimSlot(func(n int) error {
			c.log.Info("Cleaning up after a local cluster whose harness died", "slot", n)
			return reclaimSlot(ctx, n)
		})
		if s.lock == nil {
			return err
		}
		if err != nil {
			c.log.Error(err, "Some leftovers of dead local clusters could not be removed")
		}
		c.slot = s
		if livingSlots(s.n) == 0 {
			// No cluster runs: a record left by a dead harness describes
			// the machine before it, so put it back before recording anew.
			if err := restoreHostSettings(); err != nil {
				c.log.Error(err, "Restoring host settings a dead local cluster changed")
			}
		}
		if err := recordHostSettings(); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.dir(), stateRecord), []byte(c.opts.StateDir), 0o644)
	})
}

// connect builds the admin clients from the admin kubeconfig, with the
// certificates in the configuration rather than named by their files.
// client-go (1.36 on, ClientsAllowCARotation) shares one transport among
// the configurations of a process that name the same CA and certificate
// files. A cluster started again on the same state directory in the same
// process (a test) has new certificates in the same files, and its clients
// would get the stopped cluster's transport, whose CA rejects the new API
// server's certificate until client-go reads the CA file again, every 5
// minutes: the API server never looked ready within
// controlPlaneStartTimeout. With the certificates inline the transport is
// this cluster's own.
func (c *Cluster) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfigPath)
	if err != nil {
		return fmt.Errorf("reading admin kubeconfig: %w", err)
	}
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return fmt.Errorf("reading the admin certificates: %w", err)
	}
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = "", "", ""
	cfg.QPS, cfg.Burst = 100, 200
	c.restConfig = cfg
	if c.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	scheme := c.opts.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	if c.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	return nil
}

// Stop stops everything Start started: host processes, kube-proxy, the
// kubelet, the containers, containerd, the controllers, kube-apiserver and
// etcd; then it removes the node's network namespace, mounts and cgroups,
// and, if no other local cluster runs on the machine, restores the host
// settings the kubelet changed. Containers are killed, not drained: the
// cluster is going away. Calling it again returns the same result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	c.stopHostProcesses()
	c.compMu.Lock()
	comps := c.components
	c.components = nil
	procs := make([]*process, len(comps))
	for i, comp := range comps {
		procs[i] = comp.proc
	}
	c.compMu.Unlock()
	// The node first, so nothing restarts containers while they are
	// killed; the API server last (its clients then stop quickly).
	for _, names := range [][]string{{"kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"}, {"containerd"}, {"kube-apiserver"}, {"etcd"}} {
		var wg sync.WaitGroup
		for i, comp := range comps {
			if contains(names, comp.name) {
				wg.Go(func() { procs[i].stop(c.opts.StopGracePeriod) })
			}
		}
		wg.Wait()
	}
	if c.slot.lock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tearDownNode(ctx, c.slot, c.opts.StateDir); err != nil {
			errs = append(errs, err)
		}
		err := withMachineLock(func() error {
			if livingSlots(c.slot.n) > 0 {
				return nil
			}
			return restoreHostSettings()
		})
		if err != nil {
			errs = append(errs, err)
		}
		c.slot.lock.Close()
	}
	c.spawner.close()
	if c.lock != nil {
		c.lock.Close()
	}
	c.log.Info("Cluster stopped")
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// startComponent starts one of the cluster's processes on the host, output
// in logs/<name>.log; it dies with the harness (parent death signal).
func (c *Cluster) startComponent(name, path string, args ...string) (*process, error) {
	spec := processSpec{Path: path, Args: args, Env: []string{"PATH=" + os.Getenv("PATH")}, LogPath: c.LogPath(name)}
	p, err := c.spawner.start(spec)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c.compMu.Lock()
	c.components = append(c.components, &component{name: name, spec: spec, proc: p})
	c.compMu.Unlock()
	c.log.V(1).Info("Component started", "name", name, "pid", p.PID())
	return p, nil
}

// startNodeComponent starts a process of the node: in the node's network
// namespace, in the host's mount namespace (so containerd sees the volumes
// the kubelet mounts).
func (c *Cluster) startNodeComponent(name, path string, args ...string) (*process, error) {
	return c.startComponent(name, "nsenter", append([]string{"--net=" + netnsPath(c.slot.netns()), "--", path}, args...)...)
}

// running reports whether the named component runs, or the log to read.
func (c *Cluster) exited(names []string) error {
	c.compMu.Lock()
	defer c.compMu.Unlock()
	for _, comp := range c.components {
		if !contains(names, comp.name) {
			continue
		}
		select {
		case <-comp.proc.Done():
			return fmt.Errorf("%s exited (%s); see %s", comp.name, comp.proc.ExitState(), c.LogPath(comp.name))
		default:
		}
	}
	return nil
}

// poll calls cond every 100ms until it returns true, ctx ends, or one of
// the named components exits.
func (c *Cluster) poll(ctx context.Context, what string, watch []string, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.exited(watch); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// lockStateDir takes an exclusive lock on the state directory, so a second
// cluster cannot mix its files and processes into a running one's.
func (c *Cluster) lockStateDir() error {
	f, err := os.OpenFile(filepath.Join(c.opts.StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("state directory %s is in use by another local cluster: %w", c.opts.StateDir, err)
	}
	c.lock = f
	return nil
}

func (c *Cluster) logDir() string { return filepath.Join(c.opts.StateDir, "logs") }

// ServiceCIDR is the range ClusterIPs come from; the host routes it to the
// node, where kube-proxy's rules send each to a ready pod.
func (c *Cluster) ServiceCIDR() netip.Prefix { return c.slot.serviceCIDR() }

// PodCIDR is the range pod IPs come from; the host routes it to the node.
func (c *Cluster) PodCIDR() netip.Prefix { return c.slot.podCIDR() }

// HostIP is the host's address as pods see it: a server on the host that
// pods must reach (a test's origin) listens here, not on 127.0.0.1, which
// in a pod is the pod itself. The API server listens here too.
func (c *Cluster) HostIP() netip.Addr { return c.slot.hostIP() }

// ensureDir creates dir if needed.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
