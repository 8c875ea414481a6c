package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// The suite shares one cluster and one installation of the product; every
// spec brings its own namespace, CacheProxy and origin.
var (
	paths     suitePaths
	cluster   *localcluster.Cluster
	k8sClient client.Client
)

func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end suite starts a cluster and the whole product: skipped with -short")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	ctrllog.SetLogger(GinkgoLogr)
	SetDefaultEventuallyTimeout(time.Minute)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(3 * time.Second)
	SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)

	var err error
	paths, err = resolvePaths()
	Expect(err).NotTo(HaveOccurred())
	stateDir, err := newStateDir(paths.root)
	Expect(err).NotTo(HaveOccurred())
	AddReportEntry("state directory", stateDir)
	GinkgoWriter.Printf("e2e state (kubeconfig, logs) in %s\n", stateDir)

	began := time.Now()
	cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinDir:        paths.k8sBin,
		StateDir:      stateDir,
		ImageArchives: paths.images,
		Scheme:        newScheme(),
		Logger:        GinkgoLogr,
	})
	Expect(err).NotTo(HaveOccurred(), "starting the local cluster (logs in %s)", filepath.Join(stateDir, "logs"))
	DeferCleanup(stopCluster, stateDir)
	AddReportEntry("cluster start", time.Since(began).Round(time.Millisecond).String())

	// The product goes in as a user installs it: dist/install.yaml
	// (generated from config/default, checked for drift by make test) with
	// kubectl apply: the CRDs, the namespace, the ServiceAccount and its
	// RBAC, and the manager's Deployment, whose image make images built.
	began = time.Now()
	installProduct(ctx)
	AddReportEntry("manager Available after install", time.Since(began).Round(time.Millisecond).String())
	// A client made after the CRDs exist, so its REST mapper knows them.
	k8sClient, err = client.New(cluster.RESTConfig(), client.Options{Scheme: newScheme()})
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(3*time.Minute))

// stopCluster stops everything the suite started and fails if a process
// it started outlived Stop.
func stopCluster(stateDir string) {
	Expect(cluster.Stop()).To(Succeed())
	Expect(leftoverProcesses(stateDir)).To(BeEmpty(), "processes left behind after the cluster stopped")
}

// The state directory holds every log: keep it when something failed.
var _ = ReportAfterSuite("state directory", func(r Report) {
	if cluster == nil {
		return
	}
	if r.SuiteSucceeded {
		_ = os.RemoveAll(cluster.StateDir())
		return
	}
	fmt.Fprintf(os.Stderr, "e2e suite failed: kubeconfig and logs kept in %s\n", cluster.StateDir())
})

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	Expect(cachev1alpha1.AddToScheme(s)).To(Succeed())
	return s
}

// createdNamespaces are the namespaces the specs created, for diagnostics.
var createdNamespaces []string

// On failure, say what the cluster looked like before the spec's cleanup
// deletes its namespaces: those of earlier specs are already being
// deleted, the failing spec's (or its Ordered container's) are active. The
// kubectl output goes to the spec's timeline.
var _ = JustAfterEach(func(ctx SpecContext) {
	if !CurrentSpecReport().Failed() {
		return
	}
	AddReportEntry("state directory (kubeconfig, all logs)", cluster.StateDir())
	for _, ns := range createdNamespaces {
		var n corev1.Namespace
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil || !n.DeletionTimestamp.IsZero() {
			continue
		}
		for _, args := range [][]string{
			{"get", "cacheproxies,purges,deployments,pods", "-o", "wide"},
			{"describe", "purges"},
			{"get", "events", "--sort-by=.lastTimestamp"},
		} {
			_, _ = kubectl(ctx, "", append(args, "-n", ns)...)
		}
		AddReportEntry("pod logs in "+ns, strings.Join(podLogPaths(ctx, ns), "\n"))
	}
	AddReportEntry("manager log (tail, kubectl logs)", operatorLogs(ctx, 60))
}, NodeTimeout(time.Minute))
