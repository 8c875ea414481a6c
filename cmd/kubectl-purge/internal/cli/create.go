package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

const createLong = `Create a Purge: invalidate URLs or tags in every pod of a CacheProxy.

The plugin creates a real Purge object, as 'kubectl apply -f purge.yaml' would,
so RBAC on purges, the audit log, status, events and GitOps history stay the
same; it only saves writing the YAML. With --wait it follows the Purge, printing
a line per pod as each answers, then a summary.

URLs are absolute http:// or https:// URLs: the query is part of the object,
the scheme is not, and every Vary variant is purged. With --ban they are
patterns: https://www.example.com/img/ bans everything under /img/, and *
matches any run of characters. URLs can also be read from files or stdin
(-f FILE, -f -), one a line; blank lines and lines starting with # are skipped,
so a list pasted from a CDN dashboard works. A Purge holds at most 256 URLs.

Two kinds of dry run, not to be confused:
  --dry-run          same as --dry-run=count: create the Purge with
                     spec.dryRun, so every pod counts what would match and
                     changes nothing; the count is in its status.
  --dry-run=client   create nothing; print the Purge that would be created
                     (add -o yaml and commit it to Git instead).
  --dry-run=server   have the API server validate the Purge; nothing is
                     stored and no pod is called.

With --after-rollout KIND/NAME nothing is purged now: the plugin creates a
PurgeTrigger whose template is the Purge the other flags describe, and the
operator creates that Purge after each rollout of the workload completes (every
updated pod available, as 'kubectl rollout status' decides it), once per
revision. --dry-run=client -o yaml prints the trigger.

A ban at a host's root (https://www.example.com/ or https://www.example.com/*)
empties that host from every pod and sends all its traffic to the origin at
once. The API requires confirmHostRootBan for it: the plugin asks on a terminal
and otherwise needs --yes. A --dry-run (count) of such a ban changes nothing
and is not asked about.

Exit status:
  0  created (with --wait: Complete); printed (--dry-run=client); valid (=server)
  1  the Purge Failed, or the request could not be made (no permission,
     cluster unreachable, API not installed)
  2  bad flags or arguments, or input the API server refused: a validation
     message, an unknown CacheProxy, a name in use, an unconfirmed host-root ban
  3  --wait timed out; the Purge goes on in the cluster

To purge a CacheProxy named list, status or dashboard, put -- before its name:
kubectl purge [flags] -- list URL...`

const createExample = `  # Remove two objects from every pod of CacheProxy edge, and follow the Purge
  kubectl purge edge https://www.example.com/app.js 'https://www.example.com/app.js?v=2' --wait

  # Mark the home page stale: served stale while one request refreshes it
  kubectl purge edge https://www.example.com/ --soft -n web

  # Purge everything tagged product-42 and fetch fresh copies at once; wait up to a minute
  kubectl purge edge --tag product-42 --refetch --wait=1m

  # Ban everything under /img/
  kubectl purge edge --ban https://www.example.com/img/

  # Purge a pasted list of URLs, one a line (end it with Ctrl-D)
  kubectl purge edge -f -

  # Count what a ban would match, changing nothing
  kubectl purge edge --ban 'https://www.example.com/*.css' --dry-run --wait

  # Write the Purge to a file for Git instead of creating it
  kubectl purge edge https://www.example.com/app.js --name app-js --dry-run=client -o yaml > app-js.yaml

  # After every completed rollout of deployment/web, ban all of www.example.com (a PurgeTrigger)
  kubectl purge edge --ban https://www.example.com/ --yes --after-rollout deployment/web
  kubectl purge edge --ban https://www.example.com/ --yes --after-rollout deployment/web --dry-run=client -o yaml

  # Recent Purges, and one Purge's per-pod results
  kubectl purge list
  kubectl purge status edge-simple-x7k2p`

// createOptions are the flags of `kubectl purge CACHEPROXY URL...`.
type createOptions struct {
	env   *Env
	kube  *kube
	print *genericclioptions.PrintFlags

	soft, ban, refetch, yes bool
	tags, files             []string
	dryRun, wait, name      string
	afterRollout            string
	deadline, ttl           time.Duration
}

func newCreateCommand(env *Env, k *kube) *cobra.Command {
	o := &createOptions{env: env, kube: k, print: genericclioptions.NewPrintFlags("created").WithTypeSetter(scheme)}
	cmd := &cobra.Command{
		Use:         "purge CACHEPROXY [URL]... [flags]",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl purge"},
		Short:       "Invalidate URLs or tags in every pod of a CacheProxy, through a Purge object",
		Long:        createLong,
		Example:     createExample,
		Args:        cobra.ArbitraryArgs,
		RunE:        o.run,
	}
	f := cmd.Flags()
	f.BoolVar(&o.soft, "soft", false, "Soft purge: mark the objects stale and keep them; they are served stale while one request refreshes them, and if the origin fails")
	f.BoolVar(&o.ban, "ban", false, "Ban: the URLs are patterns (a URL prefix; * matches any run of characters); everything they match is invalidated")
	f.StringArrayVar(&o.tags, "tag", nil, "Purge every object the origin tagged T (Surrogate-Key, Cache-Tag or xkey header); repeatable; not with --ban")
	f.BoolVar(&o.refetch, "refetch", false, "After invalidating, each pod fetches the purged URLs again and stores them, so no user pays the miss; not with --ban")
	optionalFlag(f, &o.dryRun, "dry-run", string(dryRunCount), "",
		"count (a bare --dry-run): create the Purge with spec.dryRun, pods count what would match and change nothing; client: print the Purge, create nothing; server: validate only")
	optionalFlag(f, &o.wait, "wait", waitDefault, "bool",
		"Follow the Purge until it ends, a line per pod, then a summary; --wait=TIMEOUT (such as 30s) bounds the wait, a bare --wait waits until the Purge's deadline plus 30s")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "Read URLs (or ban patterns) from FILE, one a line; - reads stdin; repeatable")
	f.BoolVarP(&o.yes, "yes", "y", false, "Confirm a ban at a host's root without being asked (for scripts)")
	f.StringVar(&o.name, "name", "", "Name of the Purge (default: CACHEPROXY-MODE-<5 random characters>); with --after-rollout, of the PurgeTrigger (default: WORKLOAD-CACHEPROXY)")
	f.StringVar(&o.afterRollout, "after-rollout", "", "Create a PurgeTrigger instead of a Purge: purge after every completed rollout of KIND/NAME (deployment/web, statefulset/web, rollout/web for Argo Rollouts), as kubectl rollout status decides it")
	f.DurationVar(&o.deadline, "deadline", 0, "Give up on pods that have not answered after this long (spec.deadlineSeconds; default 2m, at most 24h)")
	f.DurationVar(&o.ttl, "ttl", 0, "Delete the Purge this long after it ends (spec.ttlSecondsAfterFinished; default: keep it)")
	o.print.AddFlags(cmd)
	return cmd
}

// plan is what a command line asks for, once read and checked.
type plan struct {
	in      *purgeInput
	dry     dryRunMode
	wait    bool
	timeout time.Duration
	printer printers.ResourcePrinter
	// output reports whether -o was given: stdout then carries only the
	// printed object (with --wait, the final one) and progress goes to
	// stderr.
	output bool
}

func (o *createOptions) run(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	pl, err := o.plan(cmd, args)
	if err != nil {
		return err
	}
	if o.afterRollout != "" {
		ref, err := parseWorkload(o.afterRollout)
		if err != nil {
			return err
		}
		return o.runTrigger(ctx, pl, ref)
	}
	ns, explicit, err := o.kube.namespace()
	if err != nil {
		return err
	}
	if pl.dry == dryRunClient {
		return o.printManifest(pl.in, ns, explicit, pl.printer, func(ns string) runtime.Object { return pl.in.purge(ns) })
	}
	c, err := o.connect(ctx, pl.in, ns)
	if err != nil {
		return err
	}
	createdAt := time.Now()
	purge, err := create(ctx, c, pl.in, ns, pl.dry == dryRunServer)
	if err != nil {
		return err
	}
	if !pl.wait {
		return pl.printer.PrintObj(purge, o.env.Out)
	}
	progress := o.env.Out
	if pl.output {
		progress = o.env.ErrOut
	} else if err := pl.printer.PrintObj(purge, o.env.Out); err != nil {
		return err
	}
	final, err := follow(ctx, c, purge, pl.timeout, newTracker(progress, createdAt), o.env.pendingNotice())
	if pl.output {
		if perr := pl.printer.PrintObj(final, o.env.Out); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// connect connects to the cluster, checks that the CacheProxy the input
// names exists, and has a host-root ban confirmed.
func (o *createOptions) connect(ctx context.Context, in *purgeInput, ns string) (client.WithWatch, error) {
	c, err := o.kube.client()
	if err != nil {
		return nil, err
	}
	cp, err := checkCacheProxy(ctx, c, ns, in.CacheProxy)
	if err != nil {
		return nil, err
	}
	if err := o.confirm(in, cp); err != nil {
		return nil, err
	}
	return c, nil
}

// plan reads the arguments and flags and checks them together.
func (o *createOptions) plan(cmd *cobra.Command, args []string) (*plan, error) {
	in, err := o.input(cmd, args)
	if err != nil {
		return nil, err
	}
	pl := &plan{in: in, output: o.print.OutputFlagSpecified != nil && o.print.OutputFlagSpecified()}
	if pl.dry, err = parseDryRun(o.dryRun); err != nil {
		return nil, err
	}
	in.DryRun = pl.dry == dryRunCount
	deadline := 120 * time.Second
	if in.Deadline != nil {
		deadline = *in.Deadline
	}
	if pl.wait, pl.timeout, err = parseWait(o.wait, deadline); err != nil {
		return nil, err
	}
	if pl.wait && (pl.dry == dryRunClient || pl.dry == dryRunServer) {
		return nil, usageErrorf("--wait with --dry-run=%s: no Purge is stored, so there is nothing to wait for", pl.dry)
	}
	switch pl.dry {
	case dryRunClient:
		_ = o.print.Complete("%s (dry run)")
	case dryRunServer:
		_ = o.print.Complete("%s (server dry run)")
	}
	if pl.printer, err = o.print.ToPrinter(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return pl, nil
}

// optionalValue is a string flag that may also be given bare, as --wait or
// --wait=30s. typ is the type help shows: "bool" shows the bare form only
// ("--wait"), "" shows the bare value ("--dry-run[=count]").
type optionalValue struct {
	value *string
	typ   string
}

func (v *optionalValue) String() string     { return *v.value }
func (v *optionalValue) Set(s string) error { *v.value = s; return nil }
func (v *optionalValue) Type() string       { return v.typ }

func optionalFlag(f *pflag.FlagSet, p *string, name, bare, typ, usage string) {
	f.Var(&optionalValue{value: p, typ: typ}, name, usage)
	f.Lookup(name).NoOptDefVal = bare
}

// input reads the arguments, the URL files and the mode flags, and checks
// them locally.
func (o *createOptions) input(cmd *cobra.Command, args []string) (*purgeInput, error) {
	if len(args) == 0 {
		return nil, usageErrorf("a CacheProxy name and at least one URL or --tag are required\nUsage: %s\nSee 'kubectl purge --help'.", cmd.UseLine())
	}
	mode, err := modeOf(o.soft, o.ban)
	if err != nil {
		return nil, err
	}
	in := &purgeInput{CacheProxy: args[0], Name: o.name, Mode: mode, Tags: o.tags, Refetch: o.refetch}
	for i, u := range args[1:] {
		in.URLs = append(in.URLs, sourcedURL{URL: u, Source: fmt.Sprintf("argument %d", i+2)})
	}
	stdinRead := false
	for _, name := range o.files {
		urls, err := o.readFile(name, &stdinRead)
		if err != nil {
			return nil, err
		}
		in.URLs = append(in.URLs, urls...)
	}
	in.URLs = dedupe(in.URLs)
	if cmd.Flags().Changed("deadline") {
		in.Deadline = &o.deadline
	}
	if cmd.Flags().Changed("ttl") {
		in.TTL = &o.ttl
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	return in, nil
}

// readFile reads the URLs of -f NAME; "-" is stdin, read once.
func (o *createOptions) readFile(name string, stdinRead *bool) ([]sourcedURL, error) {
	if name == "-" {
		if *stdinRead {
			return nil, usageErrorf("-f - given twice: stdin can be read once")
		}
		*stdinRead = true
		return readURLs(o.env.In, "stdin")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, usageErrorf("-f: %v", err)
	}
	defer func() { _ = f.Close() }()
	return readURLs(f, name)
}

// printManifest prints the object --dry-run=client would create (the
// Purge, or with --after-rollout the PurgeTrigger), built by build from the
// input, without status, and with a namespace only if -n named one, so the
// manifest can be committed and applied anywhere. Nothing is asked:
// printing changes nothing, so a host-root ban is confirmed in the
// manifest only with --yes.
func (o *createOptions) printManifest(in *purgeInput, ns string, explicit bool, printer printers.ResourcePrinter, build func(ns string) runtime.Object) error {
	if roots := in.hostRootBans(); len(roots) > 0 {
		if o.yes || in.DryRun {
			in.Confirm = true
		} else {
			fmt.Fprintf(o.env.ErrOut, "warning: %s bans a whole host; the API server refuses this %s unless confirmHostRootBan is true (add --yes to set it)\n",
				strings.Join(roots, ", "), build("").GetObjectKind().GroupVersionKind().Kind)
		}
	}
	if !explicit {
		ns = ""
	}
	manifest, err := runtime.DefaultUnstructuredConverter.ToUnstructured(build(ns))
	if err != nil {
		return err
	}
	delete(manifest, "status")
	return printer.PrintObj(&unstructured.Unstructured{Object: manifest}, o.env.Out)
}

// confirm asks, on a terminal, before a ban that empties whole hosts; the
// API requires confirmHostRootBan for it, which the answer sets.
func (o *createOptions) confirm(in *purgeInput, cp *cachev1alpha1.CacheProxy) error {
	roots := in.hostRootBans()
	if len(roots) == 0 {
		return nil
	}
	if o.yes || in.DryRun {
		in.Confirm = true
		return nil
	}
	pods := fmt.Sprintf("every pod of CacheProxy %q", in.CacheProxy)
	if cp != nil && cp.Status.Replicas > 0 {
		pods = fmt.Sprintf("each of the %d pods of CacheProxy %q", cp.Status.Replicas, in.CacheProxy)
	}
	what := fmt.Sprintf("%s bans all of %s: %s drops every object of it, and all its traffic goes to the origin at once",
		strings.Join(roots, ", "), strings.Join(hostsOf(roots), ", "), pods)
	if o.stdinUsed() || !o.env.stdinIsTerminal() {
		return usageErrorf("%s.\nThe API requires confirmation for that; stdin is not a terminal to ask on, so pass --yes if that is what you want", what)
	}
	fmt.Fprintf(o.env.ErrOut, "%s.\nBan the whole host? [y/N]: ", what)
	answer, err := bufio.NewReader(o.env.In).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		in.Confirm = true
		return nil
	}
	return usageErrorf("host-root ban not confirmed; nothing was created")
}

func (o *createOptions) stdinUsed() bool {
	for _, f := range o.files {
		if f == "-" {
			return true
		}
	}
	return false
}

// hostsOf names the hosts of host-root ban patterns.
func hostsOf(patterns []string) []string {
	hosts := make([]string, 0, len(patterns))
	for _, p := range patterns {
		_, rest, _ := strings.Cut(p, "://")
		host, _, _ := strings.Cut(rest, "/")
		hosts = append(hosts, host)
	}
	return hosts
}

// checkCacheProxy gets the CacheProxy the Purge names, so a typo is caught
// before a Purge waits forever for it. A user who may create Purges but
// not read CacheProxies is not stopped: RBAC on purges decides who may
// purge, and a Purge for a missing CacheProxy waits for it.
func checkCacheProxy(ctx context.Context, c client.Client, ns, name string) (*cachev1alpha1.CacheProxy, error) {
	var cp cachev1alpha1.CacheProxy
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cp)
	switch {
	case err == nil:
		return &cp, nil
	case apierrors.IsForbidden(err):
		return nil, nil
	case apierrors.IsNotFound(err) && !isResourceMissing(err):
		return nil, unknownCacheProxy(ctx, c, ns, name)
	}
	return nil, apiError(request{verb: verbGet, resource: resourceCacheProxies, namespace: ns}, err)
}

// unknownCacheProxy says which CacheProxies exist in the namespace, and in
// which other namespaces one of that name exists (as far as the user may
// list them).
func unknownCacheProxy(ctx context.Context, c client.Client, ns, name string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CacheProxy %q not found in namespace %q", name, ns)
	var here cachev1alpha1.CacheProxyList
	if err := c.List(ctx, &here, client.InNamespace(ns)); err == nil {
		if len(here.Items) == 0 {
			b.WriteString("; there is no CacheProxy in that namespace")
		} else {
			names := make([]string, 0, len(here.Items))
			for _, cp := range here.Items {
				names = append(names, cp.Name)
			}
			sort.Strings(names)
			fmt.Fprintf(&b, "; CacheProxies there: %s", strings.Join(names, ", "))
		}
	}
	var all cachev1alpha1.CacheProxyList
	if err := c.List(ctx, &all); err == nil {
		var elsewhere []string
		for _, cp := range all.Items {
			if cp.Name == name && cp.Namespace != ns {
				elsewhere = append(elsewhere, cp.Namespace)
			}
		}
		sort.Strings(elsewhere)
		if len(elsewhere) > 0 {
			fmt.Fprintf(&b, "\nCacheProxy %q exists in namespace %s: add -n %s", name, strings.Join(elsewhere, ", "), elsewhere[0])
		}
	}
	return withCode(ExitUsage, fmt.Errorf("%s", b.String()))
}

// maxNameAttempts bounds the retries of a generated name already in use.
const maxNameAttempts = 3

// create creates the Purge (only validates it, with serverDryRun),
// labelled and annotated with the user the API server sees, and explains
// a refusal.
func create(ctx context.Context, c client.Client, in *purgeInput, ns string, serverDryRun bool) (*cachev1alpha1.Purge, error) {
	user := whoAmI(ctx, c)
	opts := []client.CreateOption{client.FieldOwner(CreatedByValue)}
	if serverDryRun {
		opts = append(opts, client.DryRunAll)
	}
	for attempt := 1; ; attempt++ {
		p := in.purge(ns)
		if user != "" {
			p.Annotations = map[string]string{AnnotationRequestedBy: user}
		}
		err := c.Create(ctx, p, opts...)
		switch {
		case err == nil:
			return p, nil
		case apierrors.IsAlreadyExists(err) && in.Name == "" && attempt < maxNameAttempts:
			continue // a generated name that happened to be taken
		case apierrors.IsAlreadyExists(err):
			return nil, usageErrorf("purge %q already exists in namespace %q: a Purge is a one-off request; choose another --name, or leave --name out for a generated one", p.Name, ns)
		}
		if ierr := invalidPurgeError(err, in); ierr != nil {
			return nil, ierr
		}
		return nil, apiError(request{verb: verbCreate, resource: resourcePurges, namespace: ns}, err)
	}
}

// whoAmI is the user name the API server authenticates the plugin as, or
// "" if it cannot tell (an old API server, say).
func whoAmI(ctx context.Context, c client.Client) string {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return ""
	}
	return review.Status.UserInfo.Username
}
