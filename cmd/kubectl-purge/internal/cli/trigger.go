package cli

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// This file turns `kubectl purge ... --after-rollout KIND/NAME` into a
// PurgeTrigger instead of a Purge: the same URLs and flags become the
// template of the Purge the operator creates after each completed rollout.

// resourcePurgeTriggers is the resource of the requests about triggers.
const resourcePurgeTriggers = "purgetriggers"

// maxTriggerNameLength is the CRD's bound on a PurgeTrigger's name (it
// labels the Purges it creates, and label values have at most 63).
const maxTriggerNameLength = 63

// workloadKinds maps what kubectl accepts as a workload's resource name
// (lower case) to the kind a trigger names.
var workloadKinds = map[string]cachev1alpha1.WorkloadKind{
	"deployment": cachev1alpha1.WorkloadDeployment, "deployments": cachev1alpha1.WorkloadDeployment,
	"deploy": cachev1alpha1.WorkloadDeployment, "deployment.apps": cachev1alpha1.WorkloadDeployment,
	"deployments.apps": cachev1alpha1.WorkloadDeployment,
	"statefulset":      cachev1alpha1.WorkloadStatefulSet, "statefulsets": cachev1alpha1.WorkloadStatefulSet,
	"sts": cachev1alpha1.WorkloadStatefulSet, "statefulset.apps": cachev1alpha1.WorkloadStatefulSet,
	"statefulsets.apps": cachev1alpha1.WorkloadStatefulSet,
	"rollout":           cachev1alpha1.WorkloadRollout, "rollouts": cachev1alpha1.WorkloadRollout,
	"ro": cachev1alpha1.WorkloadRollout, "rollout.argoproj.io": cachev1alpha1.WorkloadRollout,
	"rollouts.argoproj.io": cachev1alpha1.WorkloadRollout,
}

// parseWorkload reads the value of --after-rollout: KIND/NAME as kubectl
// writes it (deployment/web, deploy/web, sts/db, rollout/web).
func parseWorkload(v string) (cachev1alpha1.WorkloadReference, error) {
	kind, name, ok := strings.Cut(v, "/")
	k, known := workloadKinds[strings.ToLower(kind)]
	switch {
	case !ok || name == "" || strings.Contains(name, "/"):
		return cachev1alpha1.WorkloadReference{}, usageErrorf("--after-rollout=%s: want KIND/NAME, such as deployment/web, statefulset/web or rollout/web", v)
	case !known:
		return cachev1alpha1.WorkloadReference{}, usageErrorf("--after-rollout=%s: a trigger follows a deployment, a statefulset or an Argo rollout, not %q", v, kind)
	}
	return cachev1alpha1.WorkloadReference{Kind: k, Name: name}, nil
}

// triggerName is --name, or "<workload>-<cacheproxy>" cut to the 63
// characters a trigger's name may have: one trigger per workload and
// cache, so a second cache in front of the same workload gets its own.
func triggerName(name string, ref cachev1alpha1.WorkloadReference, cacheProxy string) string {
	if name != "" {
		return name
	}
	n := ref.Name + "-" + cacheProxy
	if len(n) > maxTriggerNameLength {
		n = strings.TrimRight(n[:maxTriggerNameLength], "-.")
	}
	return n
}

// trigger builds the PurgeTrigger: the Purge the flags describe becomes
// its template. namespace may be empty (the printed manifest then applies
// to any namespace).
func (in *purgeInput) trigger(namespace string, ref cachev1alpha1.WorkloadReference) *cachev1alpha1.PurgeTrigger {
	p := in.purge(namespace)
	return &cachev1alpha1.PurgeTrigger{
		TypeMeta: metav1.TypeMeta{APIVersion: cachev1alpha1.GroupVersion.String(), Kind: "PurgeTrigger"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      triggerName(in.Name, ref, in.CacheProxy),
			Namespace: namespace,
			Labels:    map[string]string{LabelCreatedBy: CreatedByValue},
		},
		Spec: cachev1alpha1.PurgeTriggerSpec{
			WorkloadRef: ref,
			PurgeTemplate: cachev1alpha1.PurgeTemplate{
				// The Purges it creates are the plugin's doing too, so
				// `kubectl purge list` shows where they came from.
				Metadata: cachev1alpha1.PurgeTemplateMetadata{Labels: map[string]string{LabelCreatedBy: CreatedByValue}},
				Spec:     p.Spec,
			},
		},
	}
}

// createTrigger creates the trigger (only validates it, with
// serverDryRun) and explains a refusal.
func createTrigger(ctx context.Context, c client.Client, t *cachev1alpha1.PurgeTrigger, serverDryRun bool) error {
	opts := []client.CreateOption{client.FieldOwner(CreatedByValue)}
	if serverDryRun {
		opts = append(opts, client.DryRunAll)
	}
	err := c.Create(ctx, t, opts...)
	if apierrors.IsAlreadyExists(err) {
		return usageErrorf("purgetrigger %q already exists in namespace %q: edit it (kubectl edit purgetrigger %s), delete it, or choose another --name",
			t.Name, t.Namespace, t.Name)
	}
	return apiError(request{verb: verbCreate, resource: resourcePurgeTriggers, namespace: t.Namespace}, err)
}

// runTrigger is the create command with --after-rollout: it creates a
// PurgeTrigger, or prints it with --dry-run=client.
func (o *createOptions) runTrigger(ctx context.Context, pl *plan, ref cachev1alpha1.WorkloadReference) error {
	if pl.wait {
		return usageErrorf("--wait with --after-rollout: the trigger purges after each future rollout; follow it with kubectl get purgetrigger -w, or wait for one with kubectl wait --for=condition=Purged purgetrigger/NAME")
	}
	if name := triggerName(pl.in.Name, ref, pl.in.CacheProxy); len(name) > maxTriggerNameLength {
		return usageErrorf("--name %q is %d characters; a PurgeTrigger's name has at most %d", name, len(name), maxTriggerNameLength)
	}
	ns, explicit, err := o.kube.namespace()
	if err != nil {
		return err
	}
	if pl.dry == dryRunClient {
		return o.printManifest(pl.in, ns, explicit, pl.printer, func(ns string) runtime.Object { return pl.in.trigger(ns, ref) })
	}
	c, err := o.connect(ctx, pl.in, ns)
	if err != nil {
		return err
	}
	t := pl.in.trigger(ns, ref)
	if err := createTrigger(ctx, c, t, pl.dry == dryRunServer); err != nil {
		return err
	}
	return pl.printer.PrintObj(t, o.env.Out)
}
