package localcluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/hack/imgtool/ociimage"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// testpodImage is the name the suite's own image carries.
const testpodImage = "registry.example.com/team/testpod:v1.2.3"

// The suite shares one cluster: starting one takes several seconds.
var (
	cluster   *localcluster.Cluster
	images    []string // the archives every cluster of the suite imports
	startTook time.Duration
)

func TestLocalCluster(t *testing.T) {
	RegisterFailHandler(Fail)
	// Waits on a real node are waits on the kubelet and containerd, which
	// a loaded 2-core machine slows by seconds: none is a speed check.
	SetDefaultEventuallyTimeout(time.Minute)
	RunSpecs(t, "localcluster")
}

// imagesDir is where make images puts the pause image, unless IMAGES_DIR
// says otherwise.
func imagesDir() string {
	if dir := os.Getenv("IMAGES_DIR"); dir != "" {
		return dir
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "bin", "images"))
	Expect(err).NotTo(HaveOccurred())
	return dir
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

	pause := filepath.Join(imagesDir(), "pause.tar")
	_, err := os.Stat(pause)
	Expect(err).NotTo(HaveOccurred(), "the pause image is missing: run `make images` (or make test)")

	// The suite's own image: a tiny static server that reports its args
	// and env.
	tmp := GinkgoT().TempDir()
	testpodBin := filepath.Join(tmp, "testpod")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", testpodBin, "./internal/testpod")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = GinkgoWriter, GinkgoWriter
	Expect(build.Run()).To(Succeed())
	img, err := ociimage.Build(ociimage.Spec{
		Files: map[string]string{"/testpod": testpodBin}, Entrypoint: []string{"/testpod"}, User: "65532:65532",
	}, goruntime.GOARCH)
	Expect(err).NotTo(HaveOccurred())
	testpodArchive := filepath.Join(tmp, "testpod.tar")
	Expect(ociimage.WriteArchive(testpodArchive, img, []name.Tag{name.MustParseReference(testpodImage).(name.Tag)})).To(Succeed())
	images = []string{pause, testpodArchive}

	began := time.Now()
	cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinDir:            dir,
		StateDir:          GinkgoT().TempDir(),
		ImageArchives:     images,
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
		Expect(processesUsing(stateDir, "/testpod")).To(BeEmpty(), "processes left behind after Stop")
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
