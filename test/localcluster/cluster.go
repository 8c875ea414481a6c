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

	goruntime "runtime"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// hostIP is the node's address, and so every pod's hostIP.
const hostIP = "127.0.0.1"

// Cluster is a running local cluster. Its methods are safe for concurrent
// use. Stop it when done: nothing it started outlives Stop.
type Cluster struct {
	opts           Options
	log            logr.Logger
	kubeconfigPath string
	serviceCIDR    netip.Prefix
	podCIDR        netip.Prefix

	lock        *os.File
	logFiles    []*os.File
	env         *envtest.Environment
	reaper      *reaper
	restConfig  *rest.Config
	clientset   kubernetes.Interface
	client      client.Client
	spawner     *spawner
	kcm         *process
	broadcaster record.EventBroadcaster
	factory     informers.SharedInformerFactory
	pods        corelisters.PodLister
	agent       *nodeAgent
	proxy       *serviceProxy
	cancel      context.CancelFunc
	loops       sync.WaitGroup // scheduler and service proxy

	hostMu    sync.Mutex // guards hostProcs
	hostProcs map[*HostProcess]struct{}

	stopOnce sync.Once
	stopErr  error
}

// Start starts etcd, kube-apiserver, kube-controller-manager, installs the
// CRDs, registers the node and starts the node agent and the service proxy.
// ctx bounds the start only: the cluster runs until Stop. On error,
// whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		opts:           opts,
		log:            opts.Logger,
		kubeconfigPath: filepath.Join(opts.StateDir, "kubeconfig"),
		hostProcs:      map[*HostProcess]struct{}{},
	}
	began := time.Now()
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	c.log.Info("Cluster started", "kubeconfig", c.kubeconfigPath, "serviceCIDR", c.serviceCIDR,
		"podCIDR", c.podCIDR, "took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	for _, dir := range []string{c.opts.StateDir, c.logDir(), c.podDir()} {
		if err := ensureDir(dir); err != nil {
			return err
		}
	}
	if err := c.lockStateDir(); err != nil {
		return err
	}
	prefixes, err := pickLoopbackPrefixes(2, boundAddresses)
	if err != nil {
		return err
	}
	c.serviceCIDR, c.podCIDR = prefixes[0], prefixes[1]

	if err := c.startControlPlane(); err != nil {
		return err
	}
	c.spawner = newSpawner()
	kcmLog := filepath.Join(c.logDir(), "kube-controller-manager.log")
	c.kcm, err = startControllerManager(c.spawner, c.opts.BinDir, c.kubeconfigPath, kcmLog, c.opts.Controllers)
	if err != nil {
		return err
	}
	if err := waitControllerManager(ctx, c.clientset, c.kcm, c.opts.Controllers, kcmLog); err != nil {
		return err
	}
	if err := registerNode(ctx, c.clientset, c.opts.NodeName, nodeLabels(c.opts.NodeName), hostIP); err != nil {
		return err
	}
	return c.startNode(ctx)
}

func (c *Cluster) startControlPlane() error {
	env, logs, err := newControlPlane(c.opts.BinDir, c.logDir(), c.serviceCIDR, c.opts.CRDDirectoryPaths)
	if err != nil {
		return err
	}
	c.logFiles = logs
	if _, err := env.Start(); err != nil {
		// envtest leaves what it started running when a later step fails.
		_ = env.Stop()
		return fmt.Errorf("starting control plane (logs in %s): %w", c.logDir(), err)
	}
	c.env = env
	c.armReaper()
	c.restConfig = rest.CopyConfig(env.Config)
	if err := writeKubeconfig(env, c.kubeconfigPath); err != nil {
		return err
	}
	if c.clientset, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	scheme := c.opts.Scheme
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	if c.client, err = client.New(c.restConfig, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	return nil
}

// startNode starts the informers and, on them, the scheduler, the node
// agent and the service proxy.
func (c *Cluster) startNode(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel

	c.broadcaster = record.NewBroadcaster()
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.clientset.CoreV1().Events("")})
	recorder := func(component string) record.EventRecorder {
		return c.broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: component, Host: c.opts.NodeName})
	}

	factory := informers.NewSharedInformerFactory(c.clientset, 0)
	c.factory = factory
	podInformer := factory.Core().V1().Pods()
	svcInformer := factory.Core().V1().Services()
	c.pods = podInformer.Lister()

	c.agent = &nodeAgent{
		nodeName:    c.opts.NodeName,
		hostIP:      hostIP,
		podDir:      c.podDir(),
		images:      c.opts.Images,
		restartBase: c.opts.RestartBackoff,
		restartMax:  c.opts.MaxRestartBackoff,
		stopGrace:   c.opts.StopGracePeriod,
		log:         c.log.WithName("kubelet"),
		clientset:   c.clientset,
		recorder:    recorder("kubelet"),
		spawner:     c.spawner,
		pool:        newAddressPool(c.podCIDR, boundAddresses),
		prober:      newProber(),
		ctx:         runCtx,
		workers:     map[types.UID]*podWorker{},
		done:        map[types.UID]bool{},
	}
	sched := newScheduler(c.opts.NodeName, nodeLabels(c.opts.NodeName), c.clientset, c.pods, recorder(corev1.DefaultSchedulerName), c.log.WithName("scheduler"))
	c.proxy = newServiceProxy(svcInformer.Lister(), c.pods, recorder("kube-proxy"), c.log.WithName("proxy"))

	for _, h := range []cache.ResourceEventHandler{c.agent.handlers(), sched.handlers(), c.proxy.podHandlers()} {
		if _, err := podInformer.Informer().AddEventHandler(h); err != nil {
			return fmt.Errorf("watching pods: %w", err)
		}
	}
	if _, err := svcInformer.Informer().AddEventHandler(c.proxy.serviceHandlers()); err != nil {
		return fmt.Errorf("watching services: %w", err)
	}
	factory.Start(runCtx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("syncing the %v informer: %w", typ, ctx.Err())
		}
	}
	c.loops.Go(func() { sched.run(runCtx) })
	c.loops.Go(func() { c.proxy.run(runCtx) })
	return nil
}

// Stop stops everything Start started, in reverse order: host processes,
// the service proxy, every pod's processes, kube-controller-manager, then
// kube-apiserver and etcd. It waits for each to exit and returns what
// failed. Calling it again returns the same result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	c.stopHostProcesses()
	if c.cancel != nil {
		// The informers, the scheduler and the service proxy end with
		// runCtx, and the pod workers begin to stop every process.
		c.cancel()
		c.factory.Shutdown()
		c.loops.Wait()
	}
	if c.agent != nil {
		c.agent.stop()
	}
	if c.broadcaster != nil {
		c.broadcaster.Shutdown()
	}
	if c.kcm != nil {
		c.kcm.stop(c.opts.StopGracePeriod)
	}
	if c.spawner != nil {
		c.spawner.close()
	}
	if c.reaper != nil {
		c.reaper.disarm()
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping control plane: %w", err))
		}
	}
	for _, f := range c.logFiles {
		f.Close()
	}
	if c.lock != nil {
		c.lock.Close()
	}
	c.log.Info("Cluster stopped")
	return errors.Join(errs...)
}

// armReaper makes sure etcd and kube-apiserver die with the harness even
// if Stop never runs (a test binary killed by its timeout, say). Without it
// the cluster still works, so a failure is only logged.
func (c *Cluster) armReaper() {
	cp := c.env.ControlPlane
	apiserver, err := childProcess(cp.APIServer.Path, "--secure-port="+cp.APIServer.Port)
	if err == nil {
		var etcd int
		if etcd, err = childProcess(cp.Etcd.Path, "--listen-client-urls="+cp.Etcd.URL.String()); err == nil {
			c.reaper, err = startReaper([]int{apiserver, etcd})
		}
	}
	if err != nil {
		c.log.Error(err, "etcd and kube-apiserver will outlive this process if it dies without Stop")
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
func (c *Cluster) podDir() string { return filepath.Join(c.opts.StateDir, "pods") }

func nodeLabels(name string) map[string]string {
	return map[string]string{
		corev1.LabelHostname:   name,
		corev1.LabelOSStable:   goruntime.GOOS,
		corev1.LabelArchStable: goruntime.GOARCH,
	}
}
