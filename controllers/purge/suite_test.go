package purge_test

import (
	"context"
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
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/purge"
	"github.com/cacheops/purge-operator/test/envtestenv"
)

// The controllers run in a real manager against a real kube-apiserver and
// etcd (envtest, built by hack/setup-envtest.sh). envtest has no kubelet
// and no kube-controller-manager, so the specs create the Pods of a
// CacheProxy's Deployment themselves, give each a loopback IP, and serve
// each with a real cacheproxy listening on that IP.

var (
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
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	env := envtestenv.Start(envtestenv.Options{})
	cfg, k8sClient = env.Config, env.Client
	stopManager = startManager()
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
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

	return envtestenv.StartManager(mgr)
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
