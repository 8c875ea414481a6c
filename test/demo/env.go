package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/internal/product"
	"github.com/cacheops/purge-operator/test/localcluster"
	"github.com/cacheops/purge-operator/test/origin"
)

// environment is everything the demo runs: the cluster (the operator runs
// in it), the origin, and the state directory that holds their logs.
type environment struct {
	opts Options

	lock    *os.File // flock on <state>/demo.lock: one demo per state directory
	logFile *os.File // <state>/logs/demo.log: the harness's own log
	log     logr.Logger

	cluster *localcluster.Cluster
	scheme  *runtime.Scheme
	client  client.Client
	kubectl *kubectl

	origin    *origin.Origin
	originURL string
	originSrv *http.Server
	originLog *os.File

	// operatorApplied is set once dist/install.yaml was applied.
	operatorApplied bool
	// operatorRestarts is how many restarts of the operator's containers
	// the tour has reported.
	operatorRestarts int32
}

// Paths inside the state directory.
func (e *environment) logDir() string     { return filepath.Join(e.opts.StateDir, "logs") }
func (e *environment) podLogDir() string  { return localcluster.PodLogsDir(e.opts.StateDir) }
func (e *environment) samplesDir() string { return filepath.Join(e.opts.StateDir, "samples") }
func (e *environment) envFile() string    { return filepath.Join(e.opts.StateDir, "demo.env") }

// errStateInUse says another demo (or local cluster) holds the state
// directory.
var errStateInUse = errors.New("state directory in use")

// lockState takes the state directory for this demo and clears what a
// previous demo left there (logs, changed samples), so every log printed
// is this run's.
func (e *environment) lockState() error {
	if err := os.MkdirAll(e.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(e.opts.StateDir, "demo.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening the state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: another demo is running with its state in %s; stop it (Ctrl-C) or pass --state-dir", errStateInUse, e.opts.StateDir)
		}
		return fmt.Errorf("locking the state directory: %w", err)
	}
	e.lock = f
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	for _, dir := range []string{e.logDir(), e.podLogDir(), e.samplesDir()} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clearing the previous demo's files: %w", err)
		}
	}
	if err := os.MkdirAll(e.logDir(), 0o755); err != nil {
		return err
	}
	e.logFile, err = os.Create(filepath.Join(e.logDir(), "demo.log"))
	return err
}

// startCluster starts the local cluster with the images of make images
// imported on its node. The product (the CRDs among it) is installed
// later, as a user installs it: installOperator.
func (e *environment) startCluster(ctx context.Context) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := cachev1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	images, err := localcluster.ImagesIn(filepath.Join(e.opts.BinDir, "images"))
	if err != nil {
		return err
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:          filepath.Join(e.opts.BinDir, "k8s"),
		StateDir:        e.opts.StateDir,
		ImageArchives:   images,
		Scheme:          scheme,
		StopGracePeriod: 3 * time.Second,
		Logger:          e.log,
	})
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: a local cluster not started by a demo holds %s; stop it or pass --state-dir", errStateInUse, e.opts.StateDir)
		}
		return err
	}
	e.cluster = cluster
	e.scheme = scheme
	e.client = cluster.Client()
	e.kubectl = &kubectl{path: cluster.KubectlPath(), kubeconfig: cluster.KubeconfigPath(), dir: e.opts.RepoDir, binDir: e.opts.BinDir}
	return nil
}

// startOrigin serves the demo origin on a free port of the host's address
// as pods see it (Cluster.HostIP), logging each request to
// <state>/logs/origin.log.
func (e *environment) startOrigin(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(e.cluster.HostIP().String(), "0"))
	if err != nil {
		return fmt.Errorf("listening for the origin: %w", err)
	}
	e.originLog, err = os.Create(filepath.Join(e.logDir(), "origin.log"))
	if err != nil {
		ln.Close()
		return err
	}
	e.origin = origin.New(origin.Options{})
	e.originURL = "http://" + ln.Addr().String()
	e.originSrv = &http.Server{
		Handler:           accessLog(e.originLog, e.origin),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = e.originSrv.Serve(ln) }()
	return nil
}

// managerArgs are the flags the demo adds to the operator's own in
// dist/install.yaml: --pod-call-timeout if Options.PodCallTimeout is set.
func (e *environment) managerArgs() []string {
	if e.opts.PodCallTimeout > 0 {
		return []string{"--pod-call-timeout=" + e.opts.PodCallTimeout.String()}
	}
	return nil
}

// operatorManifest is dist/install.yaml as the demo applies it: as it is,
// or, with managerArgs, a changed copy under the state directory.
func (e *environment) operatorManifest() (sample, error) {
	s := sample{Name: filepath.Base(product.InstallManifest), Source: product.InstallManifest, Applied: product.InstallManifest}
	args := e.managerArgs()
	if len(args) == 0 {
		return s, nil
	}
	text, err := product.Manifest(e.opts.RepoDir, args...)
	if err != nil {
		return s, err
	}
	if err := os.MkdirAll(e.samplesDir(), 0o755); err != nil {
		return s, err
	}
	s.Applied = filepath.Join(e.samplesDir(), s.Name)
	s.Changes = []string{"the manager's args + " + strings.Join(args, " ")}
	return s, os.WriteFile(s.Applied, []byte(text), 0o644)
}

// operatorInstalled is called once dist/install.yaml is applied and the
// CRDs are established: the client is made anew, so that its REST mapper
// knows the product's kinds.
func (e *environment) operatorInstalled() error {
	c, err := client.New(e.cluster.RESTConfig(), client.Options{Scheme: e.scheme})
	if err != nil {
		return fmt.Errorf("a client for the product's kinds: %w", err)
	}
	e.client = c
	return nil
}

// operatorPods lists the operator's pods.
func (e *environment) operatorPods(ctx context.Context) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := e.client.List(ctx, &pods, client.InNamespace(product.Namespace), client.MatchingLabels(product.Labels)); err != nil {
		return nil, fmt.Errorf("listing the operator's pods: %w", err)
	}
	return pods.Items, nil
}

// operatorLogsCommand is how a user reads the operator's log.
const operatorLogsCommand = "kubectl logs deployment/" + product.Deployment + " -n " + product.Namespace

// saveOperatorLog writes the operator's log (its previous container's
// first, if it restarted) to <state>/logs/manager.log, so it stays with the
// cluster's logs after the demo.
func (e *environment) saveOperatorLog() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := strings.Fields(strings.TrimPrefix(operatorLogsCommand, "kubectl "))
	var b strings.Builder
	if prev, err := e.kubectl.run(ctx, append(args, "--previous")...); err == nil {
		b.WriteString("--- the previous container ---\n" + prev + "--- the current container ---\n")
	}
	cur, err := e.kubectl.run(ctx, args...)
	if err != nil {
		return fmt.Errorf("saving the operator's log: %w", err)
	}
	b.WriteString(cur)
	return os.WriteFile(filepath.Join(e.logDir(), "manager.log"), []byte(b.String()), 0o644)
}

// stop saves the operator's log, stops the cluster (every pod with it, the
// operator's too) and the origin, and releases the state directory. Safe
// to call on a partial start.
func (e *environment) stop() error {
	var errs []error
	if e.operatorApplied {
		// Not worth failing the demo for: the kubelet's own copy stays
		// under podLogDir.
		if err := e.saveOperatorLog(); err != nil {
			e.log.Error(err, "The operator's log was not saved")
		}
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.originSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := e.originSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the origin: %w", err))
		}
	}
	for _, f := range []*os.File{e.originLog, e.logFile} {
		if f != nil {
			f.Close()
		}
	}
	_ = os.Remove(e.envFile())
	if e.opts.Clean {
		if err := os.RemoveAll(e.opts.StateDir); err != nil {
			errs = append(errs, err)
		}
	}
	if e.lock != nil {
		e.lock.Close()
	}
	return errors.Join(errs...)
}

// accessLog writes one line per request to w: time, method, URL, Host,
// status and the version the origin rendered.
func accessLog(w *os.File, next http.Handler) http.Handler {
	var mu sync.Mutex // serialises lines
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s %s %s host=%s status=%d version=%s\n", time.Now().Format("15:04:05.000"),
			r.Method, r.URL.RequestURI(), r.Host, rec.status, rec.Header().Get("X-Origin-Version"))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
