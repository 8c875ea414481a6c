package localcluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// The suite shares one cluster: starting one takes several seconds.
var (
	cluster    *localcluster.Cluster
	testpodBin string
	startTook  time.Duration
)

func TestLocalCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "localcluster")
}

// binDir is where hack/setup-envtest.sh puts the Kubernetes binaries,
// unless KUBEBUILDER_ASSETS says otherwise.
func binDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "bin", "k8s"))
	Expect(err).NotTo(HaveOccurred())
	return dir
}

var _ = BeforeSuite(func(ctx SpecContext) {
	ctrllog.SetLogger(GinkgoLogr)
	dir := binDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		_, err := os.Stat(filepath.Join(dir, name))
		Expect(err).NotTo(HaveOccurred(),
			"the Kubernetes binaries are missing from %s: run `make test`, or hack/setup-envtest.sh, to build them", dir)
	}

	// The stand-in image: a tiny server that reports its args and env.
	testpodBin = filepath.Join(GinkgoT().TempDir(), "testpod")
	build := exec.CommandContext(ctx, "go", "build", "-o", testpodBin, "./internal/testpod")
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed())

	began := time.Now()
	var err error
	cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinDir:            dir,
		StateDir:          GinkgoT().TempDir(),
		Images:            map[string]string{"testpod": testpodBin},
		CRDDirectoryPaths: []string{filepath.Join("testdata", "crds")},
		Scheme:            scheme(),
		Logger:            GinkgoLogr,
	})
	Expect(err).NotTo(HaveOccurred())
	startTook = time.Since(began)
	GinkgoWriter.Printf("cluster started in %v, state in %s\n", startTook, cluster.StateDir())
	AddReportEntry("cluster start", startTook.Round(time.Millisecond).String())

	DeferCleanup(func() {
		stateDir := cluster.StateDir()
		Expect(cluster.Stop()).To(Succeed())
		Expect(processesUsing(stateDir, testpodBin)).To(BeEmpty(), "processes left behind after Stop")
	})
}, NodeTimeout(3*time.Minute))

// scheme knows the built-in kinds and CRDs.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	Expect(apiextensionsv1.AddToScheme(s)).To(Succeed())
	return s
}

// ctxWithTimeout is a context for one API call in an Eventually.
func ctxWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}
