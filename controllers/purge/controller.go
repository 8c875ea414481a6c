package purge

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/fleet"
	"github.com/cacheops/purge-operator/controllers/purgestatus"
)

// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purges,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purges/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// cacheProxyRefIndex indexes Purges by the CacheProxy they name, so a
// CacheProxy or pod event wakes only the Purges that target it.
const cacheProxyRefIndex = "spec.cacheProxyRef.name"

// Defaults of the Reconciler's fields, which the manager's flags show.
const (
	// DefaultCallTimeout bounds one admin call.
	DefaultCallTimeout = 10 * time.Second
	// DefaultConcurrency bounds the calls in flight for one Purge.
	DefaultConcurrency = 32
	// DefaultProgressInterval bounds how long a pass waits for its calls.
	DefaultProgressInterval = 500 * time.Millisecond
)

// Reconciler fans each Purge out to the admin API of every pod of its
// CacheProxy and records, per pod, what happened.
type Reconciler struct {
	client.Client
	// APIReader reads, uncached, the admin-token Secret and the pods.
	APIReader client.Reader
	// Recorder emits the Started, Completed and Failed events.
	Recorder recorder.EventRecorder
	// Clock gives the time of starts, attempts and deadlines.
	Clock clock.PassiveClock
	// Caller sends the invalidations to the pods.
	Caller PodCaller
	// CallTimeout bounds one admin call. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Concurrency bounds the calls in flight for one Purge. Zero means
	// DefaultConcurrency.
	Concurrency int
	// Backoff spaces the retries of a failed pod.
	Backoff Backoff
	// ProgressInterval bounds how long one pass waits for the calls it
	// started before it writes the results so far; calls still running
	// wake the Purge when they end. Zero means DefaultProgressInterval.
	ProgressInterval time.Duration
	// Metrics, if set, observe purge durations and pod calls.
	Metrics *Metrics

	calls *callTracker
}

// Reconcile moves one Purge forward: resolve its CacheProxy and pods,
// start the calls that are due, wait a little for them, compute the status
// from what the pass saw, and write it once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// Read live, not from the cache: a pass that started from a status
	// older than the last one written would call pods again and count
	// their attempts twice.
	var purge cachev1alpha1.Purge
	if err := r.APIReader.Get(ctx, req.NamespacedName, &purge); err != nil {
		if apierrors.IsNotFound(err) {
			r.calls.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if purge.Status.Finished() {
		return r.deleteIfExpired(ctx, &purge)
	}

	ps := &pass{now: r.Clock.Now()}
	var err error
	if ps.found, ps.pods, err = r.resolveTarget(ctx, &purge); err != nil {
		return ctrl.Result{}, err
	}
	ps.live = byName(ps.pods)
	if err := r.confirmGone(ctx, purge.Namespace, &purge.Status, ps.live); err != nil {
		return ctrl.Result{}, err
	}
	if purge.Status.Started() || ps.found {
		ps.unstarted, ps.startErr = r.startDueCalls(ctx, &purge, ps)
		r.calls.wait(&purge, r.progressInterval())
		ps.ended, ps.running = r.calls.ended(&purge), r.calls.running(&purge)
	}

	status := purge.Status.DeepCopy()
	updateStatus(status, &purge, ps)
	if err := r.patchStatus(ctx, &purge, status); err != nil {
		return ctrl.Result{}, err
	}
	r.calls.drop(&purge, slices.Collect(maps.Keys(ps.ended)))
	if status.Finished() {
		r.calls.forget(req.NamespacedName)
	}
	return r.next(&purge, status, ps.now), nil
}

// resolveTarget reports whether the Purge's CacheProxy exists and lists
// the pods of its fleet (those of spec.podNames, when set).
func (r *Reconciler) resolveTarget(ctx context.Context, purge *cachev1alpha1.Purge) (bool, []corev1.Pod, error) {
	key := client.ObjectKey{Namespace: purge.Namespace, Name: purge.Spec.CacheProxyRef.Name}
	found := true
	if err := r.Get(ctx, key, &cachev1alpha1.CacheProxy{}); err != nil {
		if !apierrors.IsNotFound(err) {
			return false, nil, fmt.Errorf("getting CacheProxy %s of purge %s: %w", key, klog.KObj(purge), err)
		}
		found = false
	}
	// Pods are listed from the API server's watch cache (resourceVersion
	// "0"), not the informer's: the target set must be the pods that exist
	// when the Purge starts, and the informer lags behind the API server.
	// A consistent list would be fresher still, but right after a write to
	// another resource (the Purge's creation) it waits for etcd's progress
	// notification, about 85 ms; a pod this list misses is at most
	// milliseconds old and its cache nearly empty. A target pod missing
	// from it is confirmed gone by a consistent GET (confirmGone).
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabels(fleet.SelectorLabels(key.Name)),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}}); err != nil {
		return false, nil, fmt.Errorf("listing pods of CacheProxy %s: %w", key, err)
	}
	if names := purge.Spec.PodNames; len(names) > 0 {
		pods.Items = slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return !slices.Contains(names, p.Name) })
	}
	return found, pods.Items, nil
}

// confirmGone reads, consistently, each Pending target pod the list did
// not show as it was, and adds those that still exist to live: a pod is
// marked Gone only on the API server's word.
func (r *Reconciler) confirmGone(ctx context.Context, namespace string, s *cachev1alpha1.PurgeStatus, live map[string]*corev1.Pod) error {
	for _, p := range s.Pods {
		if pod, ok := live[p.Name]; p.Phase != cachev1alpha1.PodPurgePending || ok && pod.Status.PodIP == p.IP {
			continue
		}
		var pod corev1.Pod
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: p.Name}, &pod)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading target pod %s: %w", klog.KRef(namespace, p.Name), err)
		default:
			live[p.Name] = &pod
		}
	}
	return nil
}

func byName(pods []corev1.Pod) map[string]*corev1.Pod {
	m := make(map[string]*corev1.Pod, len(pods))
	for i := range pods {
		m[pods[i].Name] = &pods[i]
	}
	return m
}

// deadlineOf is when a Purge started at start gives up on pods that have
// not answered.
func deadlineOf(purge *cachev1alpha1.Purge, start time.Time) time.Time {
	seconds := purge.Spec.DeadlineSeconds
	if seconds <= 0 {
		seconds = cachev1alpha1.DefaultDeadlineSeconds
	}
	return start.Add(time.Duration(seconds) * time.Second)
}

// patchStatus writes the status if it changed, then reports what changed
// through events and metrics.
func (r *Reconciler) patchStatus(ctx context.Context, purge *cachev1alpha1.Purge, status *cachev1alpha1.PurgeStatus) error {
	if equality.Semantic.DeepEqual(&purge.Status, status) {
		return nil
	}
	before := purge.DeepCopy()
	purge.Status = *status
	// The optimistic lock refuses a write based on an outdated status.
	patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, purge, patch); err != nil {
		return fmt.Errorf("patching status of purge %s: %w", klog.KObj(purge), err)
	}
	r.report(purge, &before.Status)
	return nil
}

// report emits an event for each transition of the Purge and observes its
// duration when it ends.
func (r *Reconciler) report(purge *cachev1alpha1.Purge, before *cachev1alpha1.PurgeStatus) {
	s := &purge.Status
	if before.StartTime == nil && s.StartTime != nil {
		r.Recorder.Eventf(purge, nil, corev1.EventTypeNormal, cachev1alpha1.ReasonStarted, "Start",
			"Purging %d pods of CacheProxy %s", s.TargetPods, purge.Spec.CacheProxyRef.Name)
	}
	if before.Finished() || !s.Finished() {
		return
	}
	switch s.Phase {
	case cachev1alpha1.PurgeComplete:
		r.Recorder.Eventf(purge, nil, corev1.EventTypeNormal, cachev1alpha1.ReasonCompleted, "Complete",
			"%d pods succeeded, %d gone; %d objects invalidated, %d refetched",
			s.SucceededPods, s.GonePods, s.ObjectsInvalidated, s.ObjectsRefetched)
	case cachev1alpha1.PurgeFailed:
		r.Recorder.Eventf(purge, nil, corev1.EventTypeWarning, purgestatus.FailedReason(s), "Fail", "%s", purgestatus.FailedMessage(s))
	}
	if r.Metrics != nil {
		r.Metrics.Duration.WithLabelValues(strings.ToLower(string(s.Phase))).
			Observe(s.CompletionTime.Sub(purge.CreationTimestamp.Time).Seconds())
	}
}

// next says when to look at the Purge again: when its next pod is due or
// its deadline passes while running, when its TTL expires once finished.
// Pod deletions and the CacheProxy's appearance wake it through watches.
func (r *Reconciler) next(purge *cachev1alpha1.Purge, s *cachev1alpha1.PurgeStatus, now time.Time) ctrl.Result {
	if s.Finished() {
		if at, ok := expiry(purge); ok {
			return ctrl.Result{RequeueAfter: max(at.Sub(now), time.Millisecond)}
		}
		return ctrl.Result{}
	}
	if s.StartTime == nil {
		return ctrl.Result{}
	}
	due := deadlineOf(purge, s.StartTime.Time)
	if n, _ := r.calls.busy(purge, ""); n > 0 {
		// Calls in flight wake the Purge when they end; this is the
		// fallback should a wake-up be dropped.
		due = earliest(due, now.Add(r.callTimeout()))
	}
	for i := range s.Pods {
		if s.Pods[i].Phase == cachev1alpha1.PodPurgePending {
			if at := nextAttempt(&s.Pods[i], r.Backoff); at.Before(due) {
				due = at
			}
		}
	}
	return ctrl.Result{RequeueAfter: max(due.Sub(now), time.Millisecond)}
}

func (r *Reconciler) callTimeout() time.Duration {
	if r.CallTimeout > 0 {
		return r.CallTimeout
	}
	return DefaultCallTimeout
}

func (r *Reconciler) progressInterval() time.Duration {
	if r.ProgressInterval > 0 {
		return r.ProgressInterval
	}
	return DefaultProgressInterval
}

func (r *Reconciler) concurrency() int {
	if r.Concurrency > 0 {
		return r.Concurrency
	}
	return DefaultConcurrency
}

// SetupWithManager registers the controller. It runs when a Purge is
// created (status writes of its own do not wake it), when one of its calls
// ends, when the CacheProxy a Purge waits for appears, and when a target
// pod is deleted.
// workers bounds the Purges reconciled at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &cachev1alpha1.Purge{}, cacheProxyRefIndex,
		func(o client.Object) []string { return []string{o.(*cachev1alpha1.Purge).Spec.CacheProxyRef.Name} })
	if err != nil {
		return fmt.Errorf("indexing purges by CacheProxy: %w", err)
	}
	r.calls = newCallTracker()
	return ctrl.NewControllerManagedBy(mgr).
		For(&cachev1alpha1.Purge{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.calls.wake, &handler.EnqueueRequestForObject{})).
		Watches(&cachev1alpha1.CacheProxy{}, handler.EnqueueRequestsFromMapFunc(r.purgesOfCacheProxy),
			builder.WithPredicates(predicate.Funcs{
				UpdateFunc: func(event.UpdateEvent) bool { return false },
			})).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.purgesOfPod),
			builder.WithPredicates(podGoneOrGoing())).
		Named("purge").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(workers, 1)}).
		Complete(r)
}

// podGoneOrGoing passes pod deletions and the start of a pod's termination.
func podGoneOrGoing() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func (r *Reconciler) purgesOfCacheProxy(ctx context.Context, o client.Object) []reconcile.Request {
	return r.unfinishedPurges(ctx, o.GetNamespace(), o.GetName())
}

func (r *Reconciler) purgesOfPod(ctx context.Context, o client.Object) []reconcile.Request {
	name, ok := o.GetLabels()[cachev1alpha1.LabelCacheProxy]
	if !ok {
		return nil
	}
	return r.unfinishedPurges(ctx, o.GetNamespace(), name)
}

func (r *Reconciler) unfinishedPurges(ctx context.Context, namespace, cacheProxy string) []reconcile.Request {
	var purges cachev1alpha1.PurgeList
	if err := r.List(ctx, &purges, client.InNamespace(namespace), client.MatchingFields{cacheProxyRefIndex: cacheProxy}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing purges of CacheProxy", "cacheProxy", klog.KRef(namespace, cacheProxy))
		return nil
	}
	var reqs []reconcile.Request
	for i := range purges.Items {
		if !purges.Items[i].Status.Finished() {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: purges.Items[i].Name}})
		}
	}
	return reqs
}
