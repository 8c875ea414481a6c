// Command kubectl-purge is the kubectl plugin for Purges: installed on
// PATH (make build puts it in bin/), it runs as `kubectl purge`.
//
//	kubectl purge CACHEPROXY URL... [--soft | --ban] [--tag T]... [--refetch]
//	    [--dry-run[=count|client|server]] [--wait[=TIMEOUT]] [-f FILE|-] [-n NS] [-o yaml]
//	kubectl purge list [CACHEPROXY]
//	kubectl purge status [NAME] [--wait]
//
// Linked or copied as kubectl_complete-purge next to it (make build does),
// it gives `kubectl purge` shell completion: CacheProxy and Purge names,
// namespaces and contexts from the cluster.
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
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/cli"
)

func main() {
	// The client library logs nothing a plugin's user needs; API server
	// warnings are printed to stderr by the commands themselves.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == cli.CompletionCommand {
		// kubectl asks for completions: the words typed after `kubectl
		// purge`, the last one being completed.
		args = append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	code := cli.Main(ctx, cli.Env{IOStreams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}}, args)
	stop()
	os.Exit(code)
}
