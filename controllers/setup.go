package controllers

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/cacheproxy"
	"github.com/cacheops/purge-operator/controllers/gateway"
	"github.com/cacheops/purge-operator/controllers/purge"
	"github.com/cacheops/purge-operator/controllers/purgetrigger"
)

// Defaults of Options, which the manager's flags show.
const (
	// DefaultCallTimeout bounds one admin API call to a pod.
	DefaultCallTimeout = purge.DefaultCallTimeout
	// DefaultConcurrency bounds the admin calls in flight for one Purge.
	DefaultConcurrency = purge.DefaultConcurrency
	// DefaultPurgeWorkers bounds the Purges worked on at once.
	DefaultPurgeWorkers = 8
	// DefaultMaxIdlePods bounds the pods whose admin connections are kept
	// alive between Purges.
	DefaultMaxIdlePods = 1024
	// EventSource names the operator in the events it emits.
	EventSource = "purge-operator"
)

// Options configure the controllers. The zero value of each field means
// its default.
type Options struct {
	// CacheProxyImage is the cacheproxy image of CacheProxies that name
	// none.
	CacheProxyImage string

	// CallTimeout bounds one admin call. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Concurrency bounds the calls in flight for one Purge. Zero means
	// DefaultConcurrency.
	Concurrency int
	// PurgeWorkers bounds the Purges worked on at once. Zero means
	// DefaultPurgeWorkers.
	PurgeWorkers int
	// Backoff spaces the retries of a failed pod. Zero means 1s doubling
	// up to 30s.
	Backoff purge.Backoff
	// ProgressInterval bounds how long a pass waits for its calls before
	// it writes the results so far. Zero means purge.DefaultProgressInterval.
	ProgressInterval time.Duration

	// Caller sends the invalidations to the pods. Nil means an
	// AdminCaller keeping connections to DefaultMaxIdlePods pods.
	Caller purge.PodCaller
	// Clock gives the time of starts, attempts and deadlines. Nil means
	// the real clock.
	Clock clock.PassiveClock
	// Registerer takes the Purge metrics. Nil means controller-runtime's
	// registry, served on the manager's /metrics.
	Registerer prometheus.Registerer

	// GatewayHost is the DNS name of the purge gateway's Service, which
	// the <name>-purge Service of a CacheProxy with
	// spec.purgeGateway.enabled points at. Empty: no such Service is made.
	GatewayHost string
	// Gateway configures the purge gateway; it serves only when
	// Gateway.BindAddress is set.
	Gateway gateway.Options
}

// CacheOptions are the manager's cache options: Deployments, Services and
// Pods are cached only if the operator made them (they carry the
// managed-by label), not every one in the cluster.
func CacheOptions() cache.Options {
	ours := labels.SelectorFromSet(labels.Set{cachev1alpha1.LabelManagedBy: cachev1alpha1.ManagedBy})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&appsv1.Deployment{}: {Label: ours},
		&corev1.Service{}:    {Label: ours},
		&corev1.Pod{}:        {Label: ours},
	}}
}

// Setup registers the CacheProxy, Purge and PurgeTrigger controllers, and
// the purge gateway, with mgr. mgr should be created with CacheOptions (the
// PurgeTrigger controller watches workloads through a metadata cache of its
// own, not those).
func Setup(mgr ctrl.Manager, o Options) error {
	err := (&cacheproxy.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		DefaultImage: o.CacheProxyImage,
		GatewayHost:  o.GatewayHost,
	}).SetupWithManager(mgr)
	if err != nil {
		return fmt.Errorf("setting up the CacheProxy controller: %w", err)
	}

	reg, caller, clk := o.Registerer, o.Caller, o.Clock
	if reg == nil {
		reg = crmetrics.Registry
	}
	if caller == nil {
		caller = purge.NewAdminCaller(DefaultMaxIdlePods)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	workers := o.PurgeWorkers
	if workers <= 0 {
		workers = DefaultPurgeWorkers
	}
	metrics, err := purge.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("registering purge metrics: %w", err)
	}
	err = (&purge.Reconciler{
		Client:           mgr.GetClient(),
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorder(EventSource),
		Clock:            clk,
		Caller:           caller,
		CallTimeout:      o.CallTimeout,
		Concurrency:      o.Concurrency,
		Backoff:          o.Backoff,
		ProgressInterval: o.ProgressInterval,
		Metrics:          metrics,
	}).SetupWithManager(mgr, workers)
	if err != nil {
		return fmt.Errorf("setting up the Purge controller: %w", err)
	}
	err = (&purgetrigger.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(EventSource),
	}).SetupWithManager(mgr)
	if err != nil {
		return fmt.Errorf("setting up the PurgeTrigger controller: %w", err)
	}
	if _, err := gateway.SetupWithManager(mgr, o.Gateway); err != nil {
		return fmt.Errorf("setting up the purge gateway: %w", err)
	}
	return nil
}
