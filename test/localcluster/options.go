package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultControllers returns the kube-controller-manager controllers the cluster
// runs: Deployments become ReplicaSets and Pods, owner references are
// garbage-collected, namespaces deleted, ServiceAccounts and the root CA
// ConfigMap every projected token needs exist, Services get EndpointSlices
// (which kube-proxy reads), and the node-lifecycle controller removes the
// not-ready taint the kubelet registers with.
func DefaultControllers() []string {
	return []string{
		"deployment-controller",
		"replicaset-controller",
		"garbage-collector-controller",
		"serviceaccount-controller",
		"namespace-controller",
		"endpointslice-controller",
		"root-ca-certificate-publisher-controller",
		"node-lifecycle-controller",
	}
}

// Options configures Start. The zero value is not usable: BinDir must be set
// (or KUBEBUILDER_ASSETS), and ImageArchives must hold the pause image and
// every image pods will run.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubectl, kubelet and kube-proxy
	// (hack/setup-envtest.sh builds them into bin/k8s). Unset: the
	// KUBEBUILDER_ASSETS environment variable.
	BinDir string

	// StateDir receives the kubeconfig, the certificates, the components'
	// logs (logs/*.log) and the containers' logs
	// (node/pod-logs/<ns>_<pod>_<uid>/<container>/<restart>.log). It is
	// created if missing and kept after Stop, logs included, so they can be
	// read after a failure; the node's image store and volumes go. Two
	// clusters cannot share one: Start fails if another running cluster
	// holds it. Unset: a new directory under os.TempDir().
	StateDir string

	// ImageArchives are OCI (or Docker) image archives to import into the
	// node's containerd before pods run; pods find them by the names the
	// archives carry. The pause image (registry.k8s.io/pause:3.10.2) must be
	// among them. `make images` builds the project's into bin/images;
	// ImagesIn lists a directory's. A pod whose image was not imported
	// fails to pull it (the node reaches no registry): give test pods
	// imagePullPolicy: Never to see ErrImageNeverPull at once.
	ImageArchives []string

	// CRDDirectoryPaths are directories (or files) of CRD manifests to
	// install before Start returns, e.g. config/crd/bases. A missing path is
	// an error.
	CRDDirectoryPaths []string

	// Scheme is the scheme of the client Cluster.Client returns; add your
	// API types to it. Unset: client-go's scheme (built-in kinds only).
	Scheme *runtime.Scheme

	// NodeName names the one Node. Unset: "localnode".
	NodeName string

	// Controllers are the kube-controller-manager controllers to run.
	// Unset: DefaultControllers().
	Controllers []string

	// StopGracePeriod caps how long Stop waits for each process after
	// SIGTERM before it kills it. Pod deletions keep their own grace period.
	// Unset: 5s.
	StopGracePeriod time.Duration

	// Logger receives the harness's own structured logs. Unset: discarded.
	Logger logr.Logger
}

// ImagesIn lists the image archives (*.tar) in dir, such as bin/images,
// for Options.ImageArchives.
func ImagesIn(dir string) ([]string, error) {
	archives, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, fmt.Errorf("listing image archives in %s: %w", dir, err)
	}
	if len(archives) == 0 {
		return nil, fmt.Errorf("no image archives in %s (run make images)", dir)
	}
	return archives, nil
}

// withDefaults returns a copy of o with every unset field defaulted, or an
// error naming what cannot be defaulted.
func (o Options) withDefaults() (Options, error) {
	if o.BinDir == "" {
		o.BinDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if o.BinDir == "" {
		return o, errors.New("no Kubernetes binaries: set Options.BinDir or KUBEBUILDER_ASSETS (run hack/setup-envtest.sh, or make test, to build bin/k8s)")
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, name)); err != nil {
			return o, fmt.Errorf("kubernetes binary %s missing in %s (run hack/setup-envtest.sh, or make test, to build it): %w", name, o.BinDir, err)
		}
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "localcluster-")
		if err != nil {
			return o, fmt.Errorf("creating state directory: %w", err)
		}
		o.StateDir = dir
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, fmt.Errorf("resolving state directory: %w", err)
	}
	o.StateDir = abs
	if o.NodeName == "" {
		o.NodeName = "localnode"
	}
	if len(o.Controllers) == 0 {
		o.Controllers = DefaultControllers()
	}
	if len(o.ImageArchives) == 0 {
		return o, errors.New("no image archives: set Options.ImageArchives (at least the pause image; make images builds bin/images)")
	}
	o.ImageArchives = slices.Clone(o.ImageArchives)
	for i, a := range o.ImageArchives {
		abs, err := filepath.Abs(a)
		if err != nil {
			return o, fmt.Errorf("image archive %s: %w", a, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return o, fmt.Errorf("image archive %s: %w", a, err)
		}
		o.ImageArchives[i] = abs
	}
	if o.StopGracePeriod <= 0 {
		o.StopGracePeriod = 5 * time.Second
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o, nil
}
