package cacheproxy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// The controllers run in a real manager, wired as cmd/manager wires them
// (controllers.Setup, controllers.CacheOptions), against a real
// kube-apiserver and etcd (envtest, built by hack/setup-envtest.sh).
// envtest has no kube-controller-manager: Deployments get no pods and no
// status unless a spec writes one.

// testGatewayHost is the purge gateway's Service the <name>-purge
// Services point at.
const testGatewayHost = "purge-gateway.purge-operator-system.svc.cluster.local"

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	// stopManager stops the running manager and waits until it has.
	stopManager func()
)

func TestCacheProxyController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CacheProxy controller suite")
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
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	Expect(cachev1alpha1.AddToScheme(scheme.Scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		CacheProxyImage: "ghcr.io/cacheops/cacheproxy:test",
		Registerer:      prometheus.NewRegistry(),
		GatewayHost:     testGatewayHost,
	})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	// The manager's error is checked when it stops, on the spec's
	// goroutine: nothing fails off it.
	errc := make(chan error, 1)
	go func() { errc <- mgr.Start(ctx) }()
	stopManager = func() { cancel(); Expect(<-errc).To(Succeed()) }
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func newNamespace(ctx context.Context) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cacheproxy-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// adminToken waits for the CacheProxy's admin-token Secret and returns it.
func adminToken(ctx context.Context, cp *cachev1alpha1.CacheProxy) string {
	GinkgoHelper()
	var secret corev1.Secret
	Eventually(func(g Gomega) {
		key := client.ObjectKey{Namespace: cp.Namespace, Name: fleet.TokenSecretName(cp.Name)}
		g.Expect(k8sClient.Get(ctx, key, &secret)).To(Succeed())
	}).Should(Succeed())
	return string(secret.Data[fleet.TokenKey])
}
