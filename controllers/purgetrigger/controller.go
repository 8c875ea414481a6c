package purgetrigger

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purgetriggers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purgetriggers/status,verbs=get;patch
// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purges,verbs=get;list;watch;create

// workloadIndex indexes PurgeTriggers by the workload they follow
// ("Kind/name"), so a workload's change wakes only its triggers.
const workloadIndex = "spec.workloadRef"

// unwatchedPoll is how often a trigger whose workload kind the cluster
// does not serve (Argo Rollouts not installed) is looked at again. It is a
// backstop: the CRD's own events wake such triggers as soon as it is
// installed (and again as it becomes established), and the first pass
// that finds the kind served starts watching it. The poll only covers an
// API server that declares the CRD established before its discovery
// serves the kind, when no later event of the CRD comes.
const unwatchedPoll = 30 * time.Second

// Reconciler creates one Purge per completed rollout of each trigger's
// workload and keeps the trigger's status: what it saw, what it purged,
// and how those Purges went.
type Reconciler struct {
	client.Client
	// APIReader reads the trigger and its workload from the API server:
	// a decision taken on a cached, older status could purge a revision
	// twice or take a revision rolled out under its eyes for one that
	// predates it.
	APIReader client.Reader
	// Recorder emits the PurgeCreated event and a Warning for each rollout
	// that stops short (paused, past its deadline) or Purge that fails.
	Recorder recorder.EventRecorder

	// controller, workloads and mapper start the watch of a workload kind
	// whose CRD is installed after the operator started.
	controller controller.Controller
	workloads  cache.Cache
	mapper     meta.RESTMapper

	mu sync.Mutex // guards watched
	// watched holds the workload kinds whose changes wake triggers.
	watched map[cachev1alpha1.WorkloadKind]bool
}

// Reconcile reads the trigger and its workload, creates the Purge of the
// workload's current revision if that revision finished rolling out and
// was not purged yet, and writes the status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var t cachev1alpha1.PurgeTrigger
	if err := r.APIReader.Get(ctx, req.NamespacedName, &t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !t.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	watched, err := r.watchKind(t.Spec.WorkloadRef.Kind)
	if err != nil {
		return ctrl.Result{}, err
	}
	w, err := readWorkload(ctx, r.APIReader, &t)
	if err != nil {
		return ctrl.Result{}, err
	}
	status := t.Status.DeepCopy()
	if observe(status, w) {
		p, err := r.createPurge(ctx, &t, w)
		if err != nil {
			return ctrl.Result{}, err
		}
		recordPurge(status, p, revisionString(w.rollout.revision), t.Spec.HistoryLimit)
	}
	purges, err := r.purgesOf(ctx, &t)
	if err != nil {
		return ctrl.Result{}, err
	}
	refreshHistory(status, purges)
	trimHistory(status, t.Spec.HistoryLimit)
	setRolloutCompleteCondition(status, t.Generation, w.rollout)
	setPurgedCondition(status, t.Generation)
	status.ObservedGeneration = t.Generation

	if err := r.patchStatus(ctx, &t, status); err != nil {
		return ctrl.Result{}, err
	}
	if !watched {
		return ctrl.Result{RequeueAfter: unwatchedPoll}, nil
	}
	return ctrl.Result{}, nil
}

// createPurge creates the Purge of the workload's current revision, or
// finds the one an earlier attempt created: the name is the same for
// every attempt, so the revision is purged once.
func (r *Reconciler) createPurge(ctx context.Context, t *cachev1alpha1.PurgeTrigger, w *workload) (*cachev1alpha1.Purge, error) {
	p := purgeFor(t, w.rollout.revision, w.uid)
	err := r.Create(ctx, p)
	switch {
	case err == nil:
		r.Recorder.Eventf(t, p, corev1.EventTypeNormal, cachev1alpha1.ReasonPurgeCreated, "CreatePurge",
			"Created purge %s: revision %d of %s %s finished rolling out",
			p.Name, w.rollout.revision, t.Spec.WorkloadRef.Kind, t.Spec.WorkloadRef.Name)
		return p, nil
	case !apierrors.IsAlreadyExists(err):
		return nil, fmt.Errorf("creating purge %s for revision %d of %s %s: %w",
			klog.KObj(p), w.rollout.revision, t.Spec.WorkloadRef.Kind, t.Spec.WorkloadRef.Name, err)
	}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		return nil, fmt.Errorf("reading purge %s, which exists already: %w", klog.KObj(p), err)
	}
	return p, nil
}

// purgesOf lists the Purges the trigger created that still exist.
func (r *Reconciler) purgesOf(ctx context.Context, t *cachev1alpha1.PurgeTrigger) ([]cachev1alpha1.Purge, error) {
	var purges cachev1alpha1.PurgeList
	if err := r.List(ctx, &purges, client.InNamespace(t.Namespace),
		client.MatchingLabels{cachev1alpha1.LabelPurgeTrigger: t.Name}); err != nil {
		return nil, fmt.Errorf("listing purges of purgetrigger %s: %w", klog.KObj(t), err)
	}
	return purges.Items, nil
}

// patchStatus writes the status if it changed, then reports the changes
// as events. The optimistic lock refuses a write based on an outdated
// status; the next pass decides again from the fresh one.
func (r *Reconciler) patchStatus(ctx context.Context, t *cachev1alpha1.PurgeTrigger, status *cachev1alpha1.PurgeTriggerStatus) error {
	if equality.Semantic.DeepEqual(&t.Status, status) {
		return nil
	}
	before := t.DeepCopy()
	t.Status = *status
	if err := r.Status().Patch(ctx, t, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patching status of purgetrigger %s: %w", klog.KObj(t), err)
	}
	r.report(t, &before.Status)
	return nil
}

// report emits a Warning when the rollout stops short of completing, and
// when the Purge of the current revision fails.
func (r *Reconciler) report(t *cachev1alpha1.PurgeTrigger, before *cachev1alpha1.PurgeTriggerStatus) {
	s := &t.Status
	if c := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeTriggerConditionRolloutComplete); c != nil && changedReason(before, c) {
		switch c.Reason {
		case cachev1alpha1.ReasonRolloutPaused, cachev1alpha1.ReasonProgressDeadlineExceeded,
			cachev1alpha1.ReasonRolloutStatusUnavailable, cachev1alpha1.ReasonWorkloadNotFound,
			cachev1alpha1.ReasonWorkloadKindNotInstalled:
			r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, c.Reason, "FollowRollout", "Not purging: %s", c.Message)
		}
	}
	if c := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeTriggerConditionPurged); c != nil && changedReason(before, c) &&
		c.Reason == cachev1alpha1.ReasonPurgeFailed {
		r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, c.Reason, "FollowPurge", "%s", c.Message)
	}
}

// changedReason reports whether condition c is new or changed reason
// since before.
func changedReason(before *cachev1alpha1.PurgeTriggerStatus, c *metav1.Condition) bool {
	old := meta.FindStatusCondition(before.Conditions, c.Type)
	return old == nil || old.Reason != c.Reason
}

// SetupWithManager registers the controller. A trigger is looked at when
// its spec changes, when a Purge it created changes, and when the
// workload it follows changes (watched through a metadata-only cache of
// Deployments, StatefulSets, and Argo Rollouts once their CRD is served,
// whether it was installed before the operator started or after).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &cachev1alpha1.PurgeTrigger{}, workloadIndex,
		func(o client.Object) []string {
			return []string{workloadKey(o.(*cachev1alpha1.PurgeTrigger).Spec.WorkloadRef)}
		})
	if err != nil {
		return fmt.Errorf("indexing purgetriggers by workload: %w", err)
	}
	workloads, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("creating the workload metadata cache: %w", err)
	}
	if err := mgr.Add(workloadCache{workloads}); err != nil {
		return fmt.Errorf("adding the workload metadata cache: %w", err)
	}
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&cachev1alpha1.PurgeTrigger{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&cachev1alpha1.Purge{}).
		WatchesRawSource(source.Kind[client.Object](workloads, crd, handler.EnqueueRequestsFromMapFunc(r.triggersOfCRD))).
		Named("purgetrigger").
		Build(r)
	if err != nil {
		return fmt.Errorf("building the purgetrigger controller: %w", err)
	}
	r.controller, r.workloads, r.mapper = c, workloads, mgr.GetRESTMapper()
	r.watched = map[cachev1alpha1.WorkloadKind]bool{}
	for kind := range workloadGVKs {
		if _, err := r.watchKind(kind); err != nil {
			return err
		}
	}
	return nil
}

// watchKind starts watching the workloads of kind, once, if the cluster
// serves the kind, and reports whether they are watched. The REST mapper
// asks the API server's discovery again each time it does not know the
// kind, so a CRD installed since is found.
func (r *Reconciler) watchKind(kind cachev1alpha1.WorkloadKind) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched[kind] {
		return true, nil
	}
	gvk, ok := workloadGVKs[kind]
	if !ok {
		return false, nil // readWorkload says so
	}
	if _, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if meta.IsNoMatchError(err) {
			return false, nil // not installed (yet): its CRD's events wake the triggers
		}
		return false, fmt.Errorf("looking up the %s kind: %w", gvk.GroupKind(), err)
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	src := source.Kind[client.Object](r.workloads, obj, handler.EnqueueRequestsFromMapFunc(r.triggersOf(kind)))
	if err := r.controller.Watch(src); err != nil {
		return false, fmt.Errorf("watching %s: %w", gvk.GroupKind(), err)
	}
	r.watched[kind] = true
	return true, nil
}

// workloadCache starts with the manager's caches, before leader election,
// as the manager's own cache does.
type workloadCache struct{ cache.Cache }

func (c workloadCache) GetCache() cache.Cache { return c.Cache }

func workloadKey(ref cachev1alpha1.WorkloadReference) string {
	return string(ref.Kind) + "/" + ref.Name
}

// triggersOf maps a workload of kind to the triggers that follow it.
func (r *Reconciler) triggersOf(kind cachev1alpha1.WorkloadKind) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var triggers cachev1alpha1.PurgeTriggerList
		key := workloadKey(cachev1alpha1.WorkloadReference{Kind: kind, Name: o.GetName()})
		if err := r.List(ctx, &triggers, client.InNamespace(o.GetNamespace()), client.MatchingFields{workloadIndex: key}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing purgetriggers of workload", "workload", key, "namespace", o.GetNamespace())
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(triggers.Items))
		for i := range triggers.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: triggers.Items[i].Name}})
		}
		return reqs
	}
}

// triggersOfCRD maps the CRD of a workload kind (rollouts.argoproj.io) to
// every trigger following a workload of that kind: installing the CRD, or
// its becoming established, makes them look again, and the first that
// finds the kind served starts watching it.
func (r *Reconciler) triggersOfCRD(ctx context.Context, o client.Object) []reconcile.Request {
	kind, ok := workloadCRDs[o.GetName()]
	if !ok {
		return nil
	}
	var triggers cachev1alpha1.PurgeTriggerList
	if err := r.List(ctx, &triggers); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing purgetriggers", "crd", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range triggers.Items {
		if t := &triggers.Items[i]; t.Spec.WorkloadRef.Kind == kind {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(t)})
		}
	}
	return reqs
}
