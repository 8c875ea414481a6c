package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

const listExample = `  # The 20 most recent Purges of the current namespace, newest first
  kubectl purge list

  # Every Purge of CacheProxy edge in namespace web
  kubectl purge list edge -n web --limit 0

  # Recent Purges in every namespace
  kubectl purge list -A`

type listOptions struct {
	env           *Env
	kube          *kube
	allNamespaces bool
	limit         int
}

func newListCommand(env *Env, k *kube) *cobra.Command {
	o := &listOptions{env: env, kube: k}
	cmd := &cobra.Command{
		Use:   "list [CACHEPROXY]",
		Short: "List recent Purges, newest first, with who created them and what they purge",
		Long: `List recent Purges, newest first: the columns of 'kubectl get purges', the
objects invalidated, who created the Purge and what it purges.

CREATED BY is the caller the purge gateway authenticated, and the
client family it spoke for (when the Purge came from the gateway: "system:serviceaccount:web:cms via varnish"),
else the user the plugin ran as (when it came from kubectl purge), else
the field manager that wrote its spec, such as kubectl-client-side-apply
or a GitOps controller.`,
		Example: listExample,
		Args:    rangeArgs(0, 1),
		RunE:    o.run,
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "List the Purges of every namespace")
	cmd.Flags().IntVar(&o.limit, "limit", 20, "Show at most this many Purges; 0 shows all")
	return cmd
}

func (o *listOptions) run(cmd *cobra.Command, args []string) error {
	ns, _, err := o.kube.namespace()
	if err != nil {
		return err
	}
	if o.allNamespaces {
		ns = ""
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	var list cachev1alpha1.PurgeList
	if err := c.List(cmd.Context(), &list, client.InNamespace(ns)); err != nil {
		return apiError(request{verb: verbList, resource: resourcePurges, namespace: ns}, err)
	}
	purges := list.Items
	if len(args) == 1 {
		purges = purges[:0]
		for _, p := range list.Items {
			if p.Spec.CacheProxyRef.Name == args[0] {
				purges = append(purges, p)
			}
		}
	}
	newestFirst(purges)
	if o.limit > 0 && len(purges) > o.limit {
		purges = purges[:o.limit]
	}
	if len(purges) == 0 {
		where := fmt.Sprintf("in namespace %s", ns)
		if ns == "" {
			where = "in any namespace"
		}
		fmt.Fprintf(o.env.ErrOut, "No Purges found %s.\n", where)
		return nil
	}
	return printList(o.env.Out, purges, o.allNamespaces, time.Now())
}

// newestFirst sorts Purges by creation, newest first, then by name.
func newestFirst(purges []cachev1alpha1.Purge) {
	sort.SliceStable(purges, func(i, j int) bool {
		ti, tj := purges[i].CreationTimestamp, purges[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return tj.Before(&ti)
		}
		return purges[i].Name < purges[j].Name
	})
}

// printList prints the table of `kubectl purge list`.
func printList(out io.Writer, purges []cachev1alpha1.Purge, withNamespace bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	header := "NAME\tTARGET\tMODE\tPROGRESS\tSTATE\tINVALIDATED\tAGE\tCREATED BY\tPURGES"
	if withNamespace {
		header = "NAMESPACE\t" + header
	}
	fmt.Fprintln(w, header)
	for i := range purges {
		p := &purges[i]
		if withNamespace {
			fmt.Fprintf(w, "%s\t", p.Namespace)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			p.Name, p.Spec.CacheProxyRef.Name, p.Spec.Mode, orDash(p.Status.Progress), orDash(string(p.Status.Phase)),
			p.Status.ObjectsInvalidated, age(p, now), createdBy(p), what(p, 60))
	}
	return w.Flush()
}

// age is the Purge's age as kubectl prints it.
func age(p *cachev1alpha1.Purge, now time.Time) string {
	if p.CreationTimestamp.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(p.CreationTimestamp.Time))
}

// createdBy is the gateway's caller for Purges the purge gateway made
// ("system:serviceaccount:web:cms via varnish"; an admission policy keeps
// anyone else from writing that annotation), "kubectl-purge (alice)" for
// Purges the plugin made, else the field manager that wrote the spec
// ("kubectl-client-side-apply", "kustomize-controller"...), else "-".
func createdBy(p *cachev1alpha1.Purge) string {
	if who := p.Annotations[cachev1alpha1.AnnotationRequestedBy]; who != "" {
		if source := p.Labels[cachev1alpha1.LabelPurgeSource]; source != "" {
			return who + " via " + source
		}
		return who
	}
	if p.Labels[LabelCreatedBy] == CreatedByValue {
		if user := p.Annotations[AnnotationRequestedBy]; user != "" {
			return fmt.Sprintf("%s (%s)", CreatedByValue, user)
		}
		return CreatedByValue
	}
	for _, m := range p.ManagedFields {
		if m.Subresource == "" && m.FieldsV1 != nil && strings.Contains(m.FieldsV1.GetRawString(), `"f:spec"`) {
			return m.Manager
		}
	}
	return "-"
}

// what summarises what a Purge purges, within about width characters:
// "https://www.example.com/app.js (+2 more)", "tags product-42, products".
func what(p *cachev1alpha1.Purge, width int) string {
	var parts []string
	if p.Spec.DryRun {
		parts = append(parts, "[dry run]")
	}
	if p.Spec.Refetch {
		parts = append(parts, "[refetch]")
	}
	if n := len(p.Spec.URLs); n > 0 {
		s := p.Spec.URLs[0]
		if n > 1 {
			s += fmt.Sprintf(" (+%d more)", n-1)
		}
		parts = append(parts, s)
	}
	if len(p.Spec.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(p.Spec.Tags, ", "))
	}
	s := strings.Join(parts, " ")
	if len(s) > width {
		s = s[:width-3] + "..."
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
