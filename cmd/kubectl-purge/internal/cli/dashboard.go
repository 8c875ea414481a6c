package cli

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/dashboard"
)

const dashboardLong = `Serve the Purge dashboard on this machine and open it in the browser.

The dashboard is a web app inside the plugin: a wizard to create and preview
Purges, the history of the namespace's Purges, each Purge's per-pod progress
live, and the CacheProxy fleets with their pods' cache statistics. It talks
to the API server with your kubeconfig, as you: it can do what kubectl can do
for you, nothing more, and adds nothing to the cluster.

It listens on 127.0.0.1 (loopback) unless --address says otherwise, and
answers only requests addressed to it by the address it prints (or
localhost:PORT); changes need a token the served page carries. The first
line of output is the address. Ctrl-C stops it.`

const dashboardExample = `  # Open the dashboard on the current namespace
  kubectl purge dashboard

  # On namespace web, a fixed port, without opening a browser
  kubectl purge dashboard -n web --port 8001 --no-browser`

type dashboardOptions struct {
	env       *Env
	kube      *kube
	address   string
	port      int
	noBrowser bool
}

func newDashboardCommand(env *Env, k *kube) *cobra.Command {
	o := &dashboardOptions{env: env, kube: k}
	cmd := &cobra.Command{
		Use:     "dashboard",
		Short:   "Serve the Purge dashboard (wizard, history, live progress, fleets) on this machine",
		Long:    dashboardLong,
		Example: dashboardExample,
		Args:    rangeArgs(0, 0),
		RunE:    o.run,
	}
	f := cmd.Flags()
	f.StringVar(&o.address, "address", "127.0.0.1", "Address to listen on; anything but loopback lets other machines reach your cluster as you")
	f.IntVar(&o.port, "port", 0, "Port to listen on; 0 picks a free one")
	f.BoolVar(&o.noBrowser, "no-browser", false, "Do not open a browser; only print the address")
	return cmd
}

func (o *dashboardOptions) run(cmd *cobra.Command, _ []string) error {
	ns, _, err := o.kube.namespace()
	if err != nil {
		return err
	}
	cfg, err := o.kube.flags.ToRESTConfig()
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("reading the kubeconfig: %w", err))
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	d, err := dashboard.Listen(ctx, dashboard.Options{
		Config:       cfg,
		Client:       c,
		Namespace:    ns,
		Stamp:        func(ctx context.Context, p *cachev1alpha1.Purge) { stamp(ctx, c, p) },
		CreatedBy:    createdBy,
		HostRootBans: hostRootBanPatterns,
	}, o.address, o.port)
	if err != nil {
		return withCode(ExitFailed, err)
	}
	fmt.Fprintf(o.env.Out, "Dashboard: %s\n", d.URL)
	fmt.Fprintln(o.env.ErrOut, "Press Ctrl-C to stop it.")
	if !o.noBrowser {
		if err := o.env.openBrowser(ctx, d.URL); err != nil {
			fmt.Fprintf(o.env.ErrOut, "Could not open a browser (%v): open %s yourself.\n", err, d.URL)
		}
	}
	if err := d.Serve(ctx); err != nil {
		return withCode(ExitFailed, err)
	}
	return nil
}

// stamp marks a Purge about to be created as the plugin's own, with the
// user the API server sees, as `kubectl purge` marks those it creates.
func stamp(ctx context.Context, c client.Client, p *cachev1alpha1.Purge) {
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[LabelCreatedBy] = CreatedByValue
	if user := whoAmI(ctx, c); user != "" {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[AnnotationRequestedBy] = user
	}
}

// hostRootBanPatterns lists the patterns of a ban that empty a whole host.
func hostRootBanPatterns(mode cachev1alpha1.PurgeMode, urls []string) []string {
	in := purgeInput{Mode: mode}
	for _, u := range urls {
		in.URLs = append(in.URLs, sourcedURL{URL: u})
	}
	return in.hostRootBans()
}

// openBrowser opens url in the user's browser.
func (e *Env) openBrowser(ctx context.Context, url string) error {
	if e.OpenBrowser != nil {
		return e.OpenBrowser(url)
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
