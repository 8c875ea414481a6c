// Command demo shows the whole product working on this machine, with no
// Docker and no registry: it starts the local cluster of package
// test/localcluster (a real single node: kubelet, containerd, runc) and the
// demo origin, installs the operator from dist/install.yaml, applies the
// samples of config/samples with kubectl and narrates what each does,
// checking every claim (package test/demo). Then it keeps everything
// running for your own Purges until Ctrl-C. It needs Linux and root (make
// demo uses sudo when it is not run as root).
//
//	make demo                      # tour, then keep running until Ctrl-C
//	make demo DEMO_FLAGS=--exit    # tour, exit 0 only if every check passed
//
// Exit status: 0 if every check passed, 1 if some failed or the demo could
// not start, 130 if interrupted during the tour.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cacheops/purge-operator/test/demo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: make demo [DEMO_FLAGS="flags"]
       go run ./test/cmd/demo --bin-dir bin [flags]

Runs the product end to end on a local single-node cluster (kubelet,
containerd and runc; Linux and root, no Docker), with the operator installed
from dist/install.yaml, and narrates a tour of config/samples: a CacheProxy of
3 pods, then a simple, a soft, a ban, a tag and a refetch Purge, one made with
the kubectl purge plugin (if bin/kubectl-purge is built), each checked on every
pod, and a PurgeTrigger purging after a deploy (if bin/images/demo-origin.tar
is built). Then everything keeps running for your own Purges until Ctrl-C
(unless --exit), which stops every process the demo started.

Logs go to <state-dir>/logs (cluster, origin, and the operator's manager.log
when the demo stops) and <state-dir>/node/pod-logs (every pod); they stay
after the demo and are cleared when the next starts.

Exit status: 0 if every check passed, 1 if a check failed or the demo could
not start, 2 for bad flags, 130 if interrupted during the tour.

Flags:
`

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts demo.Options
	fs.StringVar(&opts.BinDir, "bin-dir", "bin", "directory of images/ (make images) and k8s/ (make envtest)")
	fs.StringVar(&opts.StateDir, "state-dir", "", "directory for the kubeconfig and every log; one demo at a time per directory (default <repo>/test/.state/demo)")
	fs.BoolVar(&opts.Exit, "exit", false, "exit after the tour: status 0 only if every check passed")
	fs.BoolVar(&opts.NoTour, "no-tour", false, "stop the tour once the CacheProxy is ready, and hand over: a playground for your own Purges")
	fs.BoolVar(&opts.Clean, "clean", false, "remove the state directory (logs included) on exit; by default the logs stay until the next demo")
	fs.DurationVar(&opts.PodCallTimeout, "pod-call-timeout", 0, "the operator's --pod-call-timeout (default: the operator's)")
	plain := fs.Bool("plain", false, "no spinner and no colour, even on a terminal")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	opts.Out = stdout
	opts.Terminal = !*plain && isTerminal(stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := demo.Run(ctx, opts)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, demo.ErrInterrupted):
		return 130
	case errors.Is(err, demo.ErrChecksFailed):
		// The tour already listed the failures.
		return 1
	default:
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
