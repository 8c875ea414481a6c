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
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/localcluster"
	"github.com/cacheops/purge-operator/test/origin"
)

// environment is everything the demo runs: the cluster, the origin and
// the operator, and the state directory that holds their logs.
type environment struct {
	opts Options

	lock    *os.File // flock on <state>/demo.lock: one demo per state directory
	logFile *os.File // <state>/logs/demo.log: the harness's own log
	log     logr.Logger

	cluster *localcluster.Cluster
	client  client.Client
	kubectl *kubectl

	origin    *origin.Origin
	originURL string
	originSrv *http.Server
	originLog *os.File

	manager *localcluster.HostProcess
}

// Paths inside the state directory.
func (e *environment) logDir() string     { return filepath.Join(e.opts.StateDir, "logs") }
func (e *environment) podLogDir() string  { return filepath.Join(e.opts.StateDir, "pods") }
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

// startCluster starts the local cluster with cacheproxy as the image
// binary and the CRDs installed.
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
		BinDir:            filepath.Join(e.opts.BinDir, "k8s"),
		StateDir:          e.opts.StateDir,
		ImageArchives:     images,
		CRDDirectoryPaths: []string{filepath.Join(e.opts.RepoDir, "config", "crd", "bases")},
		Scheme:            scheme,
		StopGracePeriod:   3 * time.Second,
		Logger:            e.log,
	})
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: a local cluster not started by a demo holds %s; stop it or pass --state-dir", errStateInUse, e.opts.StateDir)
		}
		return err
	}
	e.cluster = cluster
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

// managerArgs are the operator's flags: no fixed ports, so two demos (or
// a demo and a test) never collide, and proxies that listen on their pod
// IP, because the local cluster's pods share one network namespace.
func (e *environment) managerArgs() []string {
	args := []string{"--health-probe-bind-address=0", "--metrics-bind-address=0", "--cacheproxy-listen-on-pod-ip"}
	if e.opts.PodCallTimeout > 0 {
		args = append(args, "--pod-call-timeout="+e.opts.PodCallTimeout.String())
	}
	return args
}

// startManager runs bin/manager next to the cluster, as a user runs an
// operator out of cluster (`make run`).
func (e *environment) startManager() error {
	m, err := e.cluster.StartHostProcess("manager", filepath.Join(e.opts.BinDir, "manager"), e.managerArgs())
	if err != nil {
		return err
	}
	e.manager = m
	return nil
}

// managerExited reports whether the operator died.
func (e *environment) managerExited() bool {
	if e.manager == nil {
		return false
	}
	select {
	case <-e.manager.Done():
		return true
	default:
		return false
	}
}

// stop stops the operator, the cluster (every pod with it) and the origin,
// and releases the state directory. Safe to call on a partial start.
func (e *environment) stop() error {
	var errs []error
	if e.manager != nil {
		e.manager.Stop()
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
