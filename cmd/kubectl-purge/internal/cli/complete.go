package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Shell completion. kubectl completes a plugin's arguments by running
// kubectl_complete-purge from PATH with the words typed after `kubectl
// purge`; make build links that name to kubectl-purge, and main turns it
// into cobra's hidden `__complete` command (CompletionCommand). The
// completions come from the cluster the typed flags and KUBECONFIG name:
// CacheProxy names for the first argument, Purge names for `status`,
// CacheProxy names for `list`, namespaces for -n and contexts for
// --context. A cluster that cannot be reached completes nothing rather
// than printing an error into the user's command line.

// CompletionCommand is the name kubectl runs to complete `kubectl purge`.
const CompletionCommand = "kubectl_complete-purge"

// completionTimeout bounds the API call behind one <TAB>.
const completionTimeout = 5 * time.Second

// registerCompletions wires completion functions into the command tree.
func (k *kube) registerCompletions(root, list, status *cobra.Command) {
	root.ValidArgsFunction = k.completeFirstArg(func() client.ObjectList { return &cachev1alpha1.CacheProxyList{} })
	list.ValidArgsFunction = k.completeFirstArg(func() client.ObjectList { return &cachev1alpha1.CacheProxyList{} })
	status.ValidArgsFunction = k.completeFirstArg(func() client.ObjectList { return &cachev1alpha1.PurgeList{} })
	// The kubeconfig flags are persistent flags of the root, so their
	// completions are registered there once for every command.
	_ = root.RegisterFlagCompletionFunc("namespace", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return k.completeNames(&corev1.NamespaceList{}, false, toComplete)
	})
	_ = root.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := k.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for name := range cfg.Contexts {
			if strings.HasPrefix(name, toComplete) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// completeFirstArg completes a command's first argument with the names of
// the namespace's objects of one kind, and offers nothing after it (the
// root command's further arguments are URLs).
func (k *kube) completeFirstArg(newList func() client.ObjectList) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return k.completeNames(newList(), true, toComplete)
	}
}

// completeNames lists the objects of list's kind, in the command's
// namespace when namespaced, and returns the names that start with prefix.
func (k *kube) completeNames(list client.ObjectList, namespaced bool, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	const directive = cobra.ShellCompDirectiveNoFileComp
	c, err := k.client()
	if err != nil {
		return nil, directive
	}
	var opts []client.ListOption
	if namespaced {
		ns, _, err := k.namespace()
		if err != nil {
			return nil, directive
		}
		opts = append(opts, client.InNamespace(ns))
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, directive
	}
	var names []string
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if m, err := meta.Accessor(o); err == nil && strings.HasPrefix(m.GetName(), prefix) {
			names = append(names, m.GetName())
		}
		return nil
	})
	slices.Sort(names)
	return names, directive
}
