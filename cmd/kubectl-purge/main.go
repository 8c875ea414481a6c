// Command kubectl-purge is the kubectl plugin for Purges: installed on
// PATH (make build puts it in bin/), it runs as `kubectl purge`.
//
//	kubectl purge CACHEPROXY URL... [--soft | --ban] [--tag T]... [--refetch]
//	    [--dry-run[=count|client|server]] [--wait[=TIMEOUT]] [-f FILE|-] [-n NS] [-o yaml]
//	kubectl purge list [CACHEPROXY]
//	kubectl purge status [NAME] [--wait]
//
// It creates real Purge objects, so RBAC, audit, status and GitOps history
// stay the same as with `kubectl apply -f purge.yaml`. `kubectl purge
// --help` documents every flag and the exit statuses; package
// cmd/kubectl-purge/internal/cli holds the implementation.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/cli"
)

func main() {
	// The client library logs nothing a plugin's user needs; API server
	// warnings are printed to stderr by the commands themselves.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{IOStreams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}}, os.Args[1:])
	stop()
	os.Exit(code)
}
