package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultControllers returns the kube-controller-manager controllers the cluster
// runs: enough for Deployments to become ReplicaSets and Pods, for owner
// references to be garbage-collected, and for namespaces to be deleted.
//
// endpointslice-controller is left out on purpose: pods have loopback IPs,
// which the API server refuses in EndpointSlices, so the controller could
// only fail and fill every Service's events with warnings. The service proxy
// selects ready pods itself.
func DefaultControllers() []string {
	return []string{
		"deployment-controller",
		"replicaset-controller",
		"garbage-collector-controller",
		"serviceaccount-controller",
		"namespace-controller",
	}
}

// Options configures Start. The zero value is not usable: BinDir must be set
// (or KUBEBUILDER_ASSETS), and Images must name every image pods will run.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager and kubectl
	// (hack/setup-envtest.sh builds them into bin/k8s). Unset: the
	// KUBEBUILDER_ASSETS environment variable.
	BinDir string

	// StateDir receives the kubeconfig, the control plane's logs
	// (logs/*.log) and one log file per pod (pods/<ns>_<name>_<uid>.log). It
	// is created if missing and kept after Stop, so logs can be read after a
	// failure. Two clusters cannot share one: Start fails if another running
	// cluster holds it. Unset: a new directory under os.TempDir().
	StateDir string

	// Images maps an image to the local binary that plays it. Keys are
	// repository basenames: "ghcr.io/cacheops/cacheproxy:v0.1.0" and
	// "cacheproxy@sha256:..." both look up "cacheproxy". A pod whose image
	// has no entry waits with reason ErrImagePull.
	Images map[string]string

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

	// RestartBackoff and MaxRestartBackoff shape the delay before a
	// container that exited is started again. As in the kubelet, the first
	// restart is immediate, the next waits RestartBackoff, doubling each
	// time up to MaxRestartBackoff, and a container that ran for ten minutes
	// starts over. Unset: 10s and 5m, the kubelet's defaults.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration

	// StopGracePeriod caps how long Stop waits for each process after
	// SIGTERM before it kills it. Pod deletions keep their own grace period.
	// Unset: 5s.
	StopGracePeriod time.Duration

	// Logger receives the harness's own structured logs. Unset: discarded.
	Logger logr.Logger
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
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
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
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = 10 * time.Second
	}
	if o.MaxRestartBackoff <= 0 {
		o.MaxRestartBackoff = 5 * time.Minute
	}
	if o.StopGracePeriod <= 0 {
		o.StopGracePeriod = 5 * time.Second
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return o, nil
}
