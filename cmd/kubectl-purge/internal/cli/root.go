package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Env is what a command line reads and writes besides its arguments.
type Env struct {
	// IOStreams are stdin (URLs from -f -, the answer to a confirmation),
	// stdout and stderr.
	genericiooptions.IOStreams
	// StdinIsTerminal reports whether In is an interactive terminal, where
	// a confirmation can be asked. Nil checks In with golang.org/x/term
	// when it is an *os.File.
	StdinIsTerminal func() bool
	// OpenBrowser opens the dashboard's URL. Nil runs the system's opener
	// (xdg-open, open, or rundll32 on Windows).
	OpenBrowser func(url string) error
	// PendingNotice is how long --wait lets a Purge go without status
	// before saying the operator may not be running. Zero means 15s, more
	// than the operator's default pod call timeout (10s), which can delay
	// the first status of a Purge with a hung pod.
	PendingNotice time.Duration
}

func (e *Env) stdinIsTerminal() bool {
	if e.StdinIsTerminal != nil {
		return e.StdinIsTerminal()
	}
	f, ok := e.In.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e *Env) pendingNotice() time.Duration {
	if e.PendingNotice > 0 {
		return e.PendingNotice
	}
	return 15 * time.Second
}

// Main runs one kubectl-purge command line (args without the program
// name), prints any error to env.ErrOut, and returns the exit status.
// Cancelling ctx (Ctrl-C) stops a --wait with ExitInterrupted.
func Main(ctx context.Context, env Env, args []string) int {
	cmd := newRootCommand(&env)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(env.ErrOut, "error: %v\n", err)
	}
	return exitCode(err)
}

// scheme knows the Purge API and the built-in types the plugin reads.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := cachev1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// kube connects to the cluster the kubeconfig flags and environment name,
// as kubectl does.
type kube struct {
	flags *genericclioptions.ConfigFlags
	env   *Env
}

// namespace is the namespace of -n, else of the kubeconfig context, else
// "default"; explicit reports whether -n named it.
func (k *kube) namespace() (ns string, explicit bool, err error) {
	ns, explicit, err = k.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", false, withCode(ExitUsage, fmt.Errorf("reading the kubeconfig: %w", err))
	}
	return ns, explicit, nil
}

// client connects to the API server. API server warnings go to stderr.
func (k *kube) client() (client.WithWatch, error) {
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("reading the kubeconfig: %w", err))
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = CreatedByValue
	cfg.WarningHandler = rest.NewWarningWriter(k.env.ErrOut, rest.WarningWriterOptions{Deduplicate: true})
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, withCode(ExitFailed, fmt.Errorf("connecting to the API server: %w", err))
	}
	return c, nil
}

func newRootCommand(env *Env) *cobra.Command {
	k := &kube{flags: genericclioptions.NewConfigFlags(true), env: env}
	root := newCreateCommand(env, k)
	k.flags.AddFlags(root.PersistentFlags())
	list, status := newListCommand(env, k), newStatusCommand(env, k)
	root.AddCommand(list, status, newDashboardCommand(env, k))
	k.registerCompletions(root, list, status)
	root.SetUsageTemplate(usageTemplate)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetIn(env.In)
	root.SetOut(env.Out)
	root.SetErr(env.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v\nSee '%s --help'.", err, c.CommandPath())
	})
	return root
}

// usageTemplate is cobra's, with the command's own flags apart from the
// kubeconfig flags every command shares.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .LocalNonPersistentFlags.HasAvailableFlags}}

Flags:
{{.LocalNonPersistentFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}

Kubeconfig flags (as kubectl's; KUBECONFIG is honoured too):
{{if .HasParent}}{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{else}}{{.PersistentFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// rangeArgs is cobra.RangeArgs with a usage exit status and the usage line.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(lo, hi)(c, args); err != nil {
			return usageErrorf("%v\nUsage: %s", err, c.UseLine())
		}
		return nil
	}
}
