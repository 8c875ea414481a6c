package purge_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/purge"
)

// The controllers run in a real manager against a real kube-apiserver and
// etcd (envtest, built by hack/setup-envtest.sh). envtest has no kubelet
// and no kube-controller-manager, so the specs create the Pods of a
// CacheProxy's Deployment themselves, give each a loopback IP, and serve
// each with a real cacheproxy listening on that IP.

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	calls     = &countingCaller{inner: purge.NewAdminCaller(64)}
	// stopManager stops the running manager and waits until it has.
	stopManager func()
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is unset: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh)")
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	Expect(cachev1alpha1.AddToScheme(scheme.Scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())

	stopManager = startManager()
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// startManager runs the operator's controllers as cmd/manager does
// (controllers.Setup, the same label-scoped cache), with short retry delays
// so the specs finish quickly.
func startManager() (stop func()) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// The restart spec registers the same controllers a second time.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		CacheProxyImage: "ghcr.io/cacheops/cacheproxy:test",
		Caller:          calls,
		CallTimeout:     3 * time.Second,
		Backoff:         purge.Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		// Short, so a spec sees a pass write partial results while a
		// call hangs.
		ProgressInterval: 100 * time.Millisecond,
		PurgeWorkers:     4,
		// A registry per manager: the restart spec starts a second one.
		Registerer: prometheus.NewRegistry(),
	})).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	// The manager's error is checked when it stops, on the spec's
	// goroutine: nothing fails off it.
	errc := make(chan error, 1)
	go func() { errc <- mgr.Start(ctx) }()
	return func() { cancel(); Expect(<-errc).To(Succeed()) }
}

// countingCaller calls pods for real and counts the calls per endpoint,
// so specs can tell which pods the controller reached.
type countingCaller struct {
	inner purge.PodCaller
	mu    sync.Mutex // guards n
	n     map[string]int
}

func (c *countingCaller) Invalidate(ctx context.Context, endpoint, token string, req admin.InvalidationRequest) (admin.InvalidationResult, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[endpoint]++
	c.mu.Unlock()
	return c.inner.Invalidate(ctx, endpoint, token, req)
}

// callsTo is how many calls reached endpoint so far.
func (c *countingCaller) callsTo(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[endpoint]
}
