package cacheproxy_test

import (
	"context"
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
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/fleet"
	"github.com/cacheops/purge-operator/test/envtestenv"
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
	k8sClient client.Client
	// stopManager stops the running manager and waits until it has.
	stopManager func()
)

func TestCacheProxyController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CacheProxy controller suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	env := envtestenv.Start(envtestenv.Options{})
	k8sClient = env.Client

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
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
	stopManager = envtestenv.StartManager(mgr)
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
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
