package purgetrigger_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cacheops/purge-operator/controllers/purgetrigger"
	"github.com/cacheops/purge-operator/test/envtestenv"
)

// The PurgeTrigger controller runs in a real manager against a real
// kube-apiserver and etcd (envtest). envtest has no kube-controller-manager,
// so the specs play the Deployment and StatefulSet controllers: they write
// the revision annotation and the status a rollout goes through, which is
// all the trigger reads. No Purge controller runs either: specs write a
// Purge's result themselves where they need one. Argo Rollouts is stood in
// for by a CRD of the same kind (testdata), installed before the manager
// starts, so the trigger watches it.

var (
	cfg       *rest.Config
	k8sClient client.Client
	// stopManager stops the running manager and waits until it has.
	stopManager func()
)

func TestPurgeTrigger(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "PurgeTrigger controller suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	SetDefaultConsistentlyDuration(time.Second)
	env := envtestenv.Start(envtestenv.Options{MoreCRDs: []string{"testdata"}})
	cfg, k8sClient = env.Config, env.Client
	stopManager = startManager()
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
	}
})

// startManager runs the PurgeTrigger controller as cmd/manager wires it.
func startManager() (stop func()) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// The restart spec registers the controller a second time.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect((&purgetrigger.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("purge-operator"),
	}).SetupWithManager(mgr)).To(Succeed())

	return envtestenv.StartManager(mgr)
}
