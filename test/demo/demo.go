package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/test/internal/repo"
)

// Options configures Run.
type Options struct {
	// BinDir holds images/ with the images make images builds (the
	// operator, cacheproxy, CoreDNS, pause and the demo origin) and k8s/
	// with the cluster's binaries (make envtest). Required.
	BinDir string

	// RepoDir is the repository root, where config/samples and
	// config/crd/bases are read and kubectl runs. Unset: the nearest
	// directory holding go.mod, from the working directory up.
	RepoDir string

	// StateDir receives the kubeconfig, every log and the changed samples.
	// One demo at a time per directory: Run refuses one another demo
	// holds. A previous demo's logs there are removed at start; this
	// demo's stay after Run returns (see Clean). Unset:
	// <RepoDir>/test/.state/demo.
	StateDir string

	// Exit makes Run return after the tour. Unset, Run keeps everything
	// running for the user's own Purges until ctx is cancelled.
	Exit bool

	// NoTour stops the tour after the CacheProxy is ready: a playground
	// for your own Purges, without the samples' Purges.
	NoTour bool

	// Clean removes StateDir when Run returns. Unset, the logs stay for
	// reading after the demo.
	Clean bool

	// PodCallTimeout is passed to the operator's --pod-call-timeout.
	// Unset: the operator's default.
	PodCallTimeout time.Duration

	// Out receives the narration. Unset: os.Stdout.
	Out io.Writer

	// Terminal draws spinners while waiting and uses colour (unless
	// NO_COLOR is set). Set it when Out is a terminal.
	Terminal bool
}

// ErrChecksFailed is returned (wrapped) when some step of the tour did not
// do what it said.
var ErrChecksFailed = errors.New("some checks failed")

// ErrInterrupted is returned (wrapped) when ctx was cancelled during the
// tour, before every step ran.
var ErrInterrupted = errors.New("interrupted")

// Run starts the local cluster and the demo origin, installs the operator
// in the cluster, runs the narrated tour of the samples, and then, unless opts.Exit, keeps
// everything running until ctx is cancelled. Whatever it started is stopped
// before it returns. It returns nil only if every check of the tour
// passed.
//
// Run points controller-runtime's and klog's global loggers at
// <StateDir>/logs/demo.log, so no library log reaches the narration.
func Run(ctx context.Context, opts Options) (err error) {
	if err := opts.complete(); err != nil {
		return err
	}
	n := &narrator{w: opts.Out, tty: opts.Terminal, color: opts.Terminal && os.Getenv("NO_COLOR") == ""}
	e := &environment{opts: opts}
	if err := e.lockState(); err != nil {
		return err
	}
	e.log = textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(e.logFile)))
	ctrllog.SetLogger(e.log)
	klog.SetLogger(e.log)
	defer func() {
		err = errors.Join(err, shutdown(n, e))
	}()

	t := &tour{n: n, env: e, web: newWeb()}
	began := time.Now()
	if err := t.run(ctx); err != nil {
		if ctx.Err() != nil {
			n.title("Interrupted: stopping everything")
			return fmt.Errorf("%w during the tour", ErrInterrupted)
		}
		// Counted as a failed check, so the summary adds up ("1 of 1
		// checks failed" when the cluster could not even start).
		t.check(false, err.Error(), "")
	}
	t.summary(time.Since(began))
	if !opts.Exit {
		t.handOver()
		<-ctx.Done()
		n.title("Ctrl-C: stopping everything")
	}
	if len(t.failures) > 0 {
		return fmt.Errorf("%w: %s", ErrChecksFailed, strings.Join(t.failures, "; "))
	}
	return nil
}

// shutdown stops everything and says so.
func shutdown(n *narrator, e *environment) error {
	if e.cluster == nil && e.originSrv == nil {
		return e.stop()
	}
	took, err := n.wait(context.Background(), "stopping the operator, the cache pods, the cluster and the origin", func(context.Context) error {
		return e.stop()
	})
	if err != nil {
		n.fail("stopping: " + err.Error())
		return err
	}
	n.pass(fmt.Sprintf("everything stopped (%s)", seconds(took)))
	if !e.opts.Clean {
		n.say("logs stay in %s", relPath(e.logDir()))
	}
	return nil
}

// complete fills in defaults and checks the binaries are there.
func (o *Options) complete() error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.RepoDir == "" {
		dir, err := findRepoDir()
		if err != nil {
			return err
		}
		o.RepoDir = dir
	}
	if o.BinDir == "" {
		return errors.New("no bin directory: pass --bin-dir (make demo passes bin/)")
	}
	for _, p := range []*string{&o.RepoDir, &o.BinDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(o.RepoDir, "test", ".state", "demo")
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return err
	}
	o.StateDir = abs
	var missing []string
	for _, name := range []string{"images/manager.tar", "images/cacheproxy.tar", "images/coredns.tar", "images/pause.tar",
		"k8s/etcd", "k8s/kube-apiserver", "k8s/kube-controller-manager", "k8s/kube-scheduler", "k8s/kubectl", "k8s/kubelet", "k8s/kube-proxy"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, name)); err != nil {
			missing = append(missing, filepath.Join(o.BinDir, name))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run `make demo` (it builds them first) or `make envtest images`", strings.Join(missing, ", "))
	}
	return nil
}

// findRepoDir is the repository's root directory.
func findRepoDir() (string, error) {
	dir, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("%w: run the demo from the repository (make demo)", err)
	}
	return dir, nil
}

// relPath shortens path relative to the working directory when it is
// under it, for narration.
func relPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}
