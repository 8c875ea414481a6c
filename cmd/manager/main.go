// Command manager runs the purge-operator: the controllers that keep each
// CacheProxy's fleet in shape and fan every Purge out to its pods.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/gateway"
)

// options are the manager's command-line flags.
type options struct {
	metricsAddr          string
	metricsSecure        bool
	probeAddr            string
	leaderElect          bool
	leaderElectNamespace string
	enableHTTP2          bool
	cacheProxyImage      string
	podCallTimeout       time.Duration
	podCallConcurrency   int
	purgeWorkers         int
	gateway              gateway.Options
	gatewayHost          string
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"Address the metrics endpoint binds to, such as :8443 (HTTPS) or :8080 (HTTP). \"0\" disables it.")
	flag.BoolVar(&o.metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorised through the API server (TokenReview and SubjectAccessReview). False serves plain HTTP.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081",
		"Address the /healthz and /readyz probe endpoint binds to. \"0\" disables it.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader through a Lease so only one of several manager replicas reconciles at a time.")
	flag.StringVar(&o.leaderElectNamespace, "leader-election-namespace", "",
		"Namespace of the leader-election Lease. Empty: the namespace the manager runs in.")
	flag.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics server. Off by default because of the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.StringVar(&o.cacheProxyImage, "cacheproxy-image", "ghcr.io/cacheops/cacheproxy:v0.1.0",
		"Container image of the cacheproxy pods, for CacheProxies whose spec.image is empty.")
	flag.DurationVar(&o.podCallTimeout, "pod-call-timeout", controllers.DefaultCallTimeout,
		"Bound on one admin API call to a cacheproxy pod; a call that takes longer fails and is retried.")
	flag.IntVar(&o.podCallConcurrency, "pod-call-concurrency", controllers.DefaultConcurrency,
		"Admin API calls in flight at once for one Purge.")
	flag.IntVar(&o.purgeWorkers, "max-concurrent-purges", controllers.DefaultPurgeWorkers,
		"Purges worked on at once.")
	flag.StringVar(&o.gateway.BindAddress, "gateway-bind-address", "",
		"Address the purge gateway listens on, such as :8090: it turns the PURGE, BAN and PURGEKEYS requests of content systems and the Fastly and Cloudflare purge calls into Purges. Every replica serves it. Empty disables it.")
	flag.StringVar(&o.gateway.CertDir, "gateway-cert-dir", "",
		"Directory holding tls.crt and tls.key: the purge gateway serves TLS and reloads them when they change. Empty serves plain HTTP.")
	flag.DurationVar(&o.gateway.CoalesceWindow, "gateway-coalesce-window", gateway.DefaultCoalesceWindow,
		"How long the purge gateway gathers requests of the same CacheProxy, mode and caller into one Purge, from the first one's arrival. Negative: no gathering.")
	flag.StringVar(&o.gatewayHost, "gateway-service-host", "purge-operator-purge-gateway.purge-operator-system.svc.cluster.local",
		"DNS name of the purge gateway's Service: the <name>-purge Service of a CacheProxy with spec.purgeGateway.enabled is an ExternalName pointing at it. Empty: no such Services are made.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cachev1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.metricsAddr,
		SecureServing: o.metricsSecure,
		TLSOpts:       tlsOpts,
	}
	if o.metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "purge-operator.cache.cacheops.io",
		LeaderElectionNamespace: o.leaderElectNamespace,
		// Release the Lease on a clean exit so a new replica takes over at
		// once instead of waiting for the lease to expire.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	err = controllers.Setup(mgr, controllers.Options{
		CacheProxyImage: o.cacheProxyImage,
		CallTimeout:     o.podCallTimeout,
		Concurrency:     o.podCallConcurrency,
		PurgeWorkers:    o.purgeWorkers,
		GatewayHost:     o.gatewayHost,
		Gateway:         o.gateway,
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding readiness check: %w", err)
	}

	ctrl.Log.WithName("setup").Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}
