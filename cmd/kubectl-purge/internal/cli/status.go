package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

const statusExample = `  # One Purge's per-pod results and conditions
  kubectl purge status edge-simple-x7k2p

  # The newest Purge of the namespace
  kubectl purge status -n web

  # Follow a running Purge again (after a --wait timed out, say)
  kubectl purge status edge-simple-x7k2p --wait`

type statusOptions struct {
	env  *Env
	kube *kube
	wait string
}

func newStatusCommand(env *Env, k *kube) *cobra.Command {
	o := &statusOptions{env: env, kube: k}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show one Purge: what it purges, each target pod's result, its conditions",
		Long: `Show one Purge (the newest of the namespace if NAME is left out): what it
purges, its state, a table of its target pods (IP, phase, attempts, objects
matched, invalidated and refetched, last error) and its conditions.

With --wait, follow it until it ends instead, as 'kubectl purge --wait' does;
the exit status is then that of 'kubectl purge --wait'.`,
		Example: statusExample,
		Args:    rangeArgs(0, 1),
		RunE:    o.run,
	}
	optionalFlag(cmd.Flags(), &o.wait, "wait", waitDefault, "bool",
		"Follow the Purge until it ends; --wait=TIMEOUT (such as 30s) bounds the wait, a bare --wait waits until its deadline plus 30s")
	return cmd
}

func (o *statusOptions) run(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	ns, _, err := o.kube.namespace()
	if err != nil {
		return err
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	var p cachev1alpha1.Purge
	if len(args) == 1 {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, &p); err != nil {
			if apierrors.IsNotFound(err) && !isResourceMissing(err) {
				return withCode(ExitUsage, fmt.Errorf("purge %q not found in namespace %q (kubectl purge list shows the recent ones)", args[0], ns))
			}
			return apiError(request{verb: verbGet, resource: resourcePurges, namespace: ns}, err)
		}
	} else {
		var list cachev1alpha1.PurgeList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return apiError(request{verb: verbList, resource: resourcePurges, namespace: ns}, err)
		}
		if len(list.Items) == 0 {
			return withCode(ExitUsage, fmt.Errorf("no Purge in namespace %q", ns))
		}
		newestFirst(list.Items)
		p = list.Items[0]
	}
	deadline := time.Duration(p.Spec.DeadlineSeconds) * time.Second
	if deadline <= 0 {
		deadline = 120 * time.Second
	}
	wait, timeout, err := parseWait(o.wait, deadline)
	if err != nil {
		return err
	}
	if wait {
		fmt.Fprintf(o.env.Out, "Following purge %s (%s) of CacheProxy %s\n", p.Name, describeMode(&p), p.Spec.CacheProxyRef.Name)
		_, err := follow(ctx, c, &p, timeout, newTracker(o.env.Out, time.Time{}), o.env.pendingNotice())
		return err
	}
	return printStatus(o.env.Out, &p, time.Now())
}

// describeMode is "simple", "soft, refetch", "ban, dry run"...
func describeMode(p *cachev1alpha1.Purge) string {
	parts := []string{string(p.Spec.Mode)}
	if p.Spec.Refetch {
		parts = append(parts, "refetch")
	}
	if p.Spec.DryRun {
		parts = append(parts, "dry run: count only")
	}
	if p.Spec.ConfirmHostRootBan {
		parts = append(parts, "host-root ban confirmed")
	}
	return strings.Join(parts, ", ")
}

// printStatus prints `kubectl purge status`: a summary, the per-pod table
// and the conditions.
func printStatus(out io.Writer, p *cachev1alpha1.Purge, now time.Time) error {
	s := &p.Status
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%s:\t%s\n", name, fmt.Sprintf(format, args...))
	}
	field("Name", "%s", p.Name)
	field("Namespace", "%s", p.Namespace)
	field("CacheProxy", "%s", p.Spec.CacheProxyRef.Name)
	field("Mode", "%s", describeMode(p))
	for i, u := range p.Spec.URLs {
		label := ""
		if i == 0 {
			label = "URLs"
			if p.Spec.Mode == cachev1alpha1.PurgeModeBan {
				label = "Patterns"
			}
			label += ":"
		}
		fmt.Fprintf(w, "%s\t%s\n", label, u)
	}
	if len(p.Spec.Tags) > 0 {
		field("Tags", "%s", strings.Join(p.Spec.Tags, ", "))
	}
	state := orDash(string(s.Phase))
	if s.Progress != "" {
		state += fmt.Sprintf(", %s pods done", s.Progress)
	}
	field("State", "%s", state)
	field("Created", "%s ago by %s", age(p, now), createdBy(p))
	if s.StartTime != nil {
		field("Started", "%s", s.StartTime.UTC().Format(time.RFC3339))
	}
	if s.CompletionTime != nil {
		field("Finished", "%s (took %s)", s.CompletionTime.UTC().Format(time.RFC3339), s.CompletionTime.Sub(p.CreationTimestamp.Time))
	}
	field("Objects", "%d matched, %d invalidated, %d refetched", s.ObjectsMatched, s.ObjectsInvalidated, s.ObjectsRefetched)
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	if len(s.Pods) == 0 {
		fmt.Fprintln(out, "No target pods recorded yet.")
	} else {
		w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "POD\tIP\tPHASE\tATTEMPTS\tMATCHED\tINVALIDATED\tREFETCHED\tLAST ERROR")
		for _, pod := range s.Pods {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", pod.Name, orDash(pod.IP), pod.Phase, pod.Attempts,
				pod.Matched, pod.Invalidated, pod.Refetched, oneLine(pod.LastError))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}

	if len(s.Conditions) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "CONDITION\tSTATUS\tREASON\tMESSAGE")
		for _, c := range s.Conditions {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, oneLine(c.Message))
		}
		return w.Flush()
	}
	return nil
}
