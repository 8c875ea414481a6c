package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Defaults of Options.
const (
	// DefaultReviewTTL is how long a TokenReview's or a
	// SubjectAccessReview's answer is reused.
	DefaultReviewTTL = 10 * time.Second
	// DefaultMaxWait bounds the wait a client may ask for.
	DefaultMaxWait = 10 * time.Minute
	// DefaultPort is the port of the gateway's Service in config/.
	DefaultPort = 8090
)

// Limits of a request. Larger ones are refused with 413 and 431.
const (
	maxBodyBytes   = 1 << 20
	maxHeaderBytes = 64 << 10
)

// Options configure a Gateway. The zero value of each field but
// BindAddress is a working default.
type Options struct {
	// BindAddress is the address to listen on, such as ":8090". Empty:
	// Start serves nothing.
	BindAddress string
	// CertDir, if set, holds tls.crt and tls.key: the gateway serves TLS
	// and reloads them when they change. Empty: plain HTTP.
	CertDir string
	// CoalesceWindow is how long requests of the same CacheProxy, mode and
	// caller are gathered into one Purge, counted from the first one's
	// arrival. Zero: DefaultCoalesceWindow. Negative: no gathering; each
	// request gets its own Purges.
	CoalesceWindow time.Duration
	// ReviewTTL is how long token and access reviews are reused (a
	// refusal of access at most a second). Zero: DefaultReviewTTL.
	// Negative: every request is reviewed again.
	ReviewTTL time.Duration
	// MaxWait bounds ?wait= and X-Purge-Wait. Zero: DefaultMaxWait.
	MaxWait time.Duration
	// Clock times coalescing windows and review caches. Nil: the real
	// clock.
	Clock clock.WithDelayedExecution
}

// Gateway serves the purge gateway's HTTP endpoint. Create it with New; it
// is an http.Handler, and a manager.Runnable that serves on
// Options.BindAddress on every manager replica.
type Gateway struct {
	opts Options
	// client reads CacheProxies and Purges from the manager's cache and
	// creates Purges and reviews.
	client client.Client
	// apiReader reads pods and namespaces, which the manager does not
	// cache, and a CacheProxy the cache does not hold yet, straight from
	// the API server.
	apiReader client.Reader
	reviews   *reviewer
	batches   *coalescer
	waits     *waiter
	log       logr.Logger
}

// Interface guards: a Gateway is an HTTP handler and a runnable that every
// manager replica runs.
var (
	_ http.Handler                   = (*Gateway)(nil)
	_ manager.Runnable               = (*Gateway)(nil)
	_ manager.LeaderElectionRunnable = (*Gateway)(nil)
)

// New returns a Gateway that reads and writes through c and reads pods,
// namespaces and CacheProxies missing from c through apiReader.
func New(c client.Client, apiReader client.Reader, opts Options) *Gateway {
	if opts.CoalesceWindow == 0 {
		opts.CoalesceWindow = DefaultCoalesceWindow
	}
	opts.CoalesceWindow = max(opts.CoalesceWindow, 0)
	if opts.ReviewTTL == 0 {
		opts.ReviewTTL = DefaultReviewTTL
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	g := &Gateway{
		opts:      opts,
		client:    c,
		apiReader: apiReader,
		reviews:   newReviewer(c, opts.Clock, opts.ReviewTTL),
		waits:     newWaiter(c),
		log:       ctrl.Log.WithName("gateway"),
	}
	g.batches = &coalescer{window: opts.CoalesceWindow, clock: opts.Clock, flush: g.createBatch}
	return g
}

// SetupWithManager creates the Gateway, lets it watch Purges through the
// manager's cache (for ?wait) and adds it to the manager when
// opts.BindAddress is set.
func SetupWithManager(mgr ctrl.Manager, opts Options) (*Gateway, error) {
	g := New(mgr.GetClient(), mgr.GetAPIReader(), opts)
	informer, err := mgr.GetCache().GetInformer(context.Background(), &cachev1alpha1.Purge{})
	if err != nil {
		return nil, fmt.Errorf("watching Purges for the gateway: %w", err)
	}
	if _, err := informer.AddEventHandler(g.waits.handler()); err != nil {
		return nil, fmt.Errorf("watching Purges for the gateway: %w", err)
	}
	if opts.BindAddress == "" {
		return g, nil
	}
	if err := mgr.Add(g); err != nil {
		return nil, fmt.Errorf("adding the purge gateway to the manager: %w", err)
	}
	return g, nil
}

// NeedLeaderElection is false: every replica serves, since the gateway
// only creates objects.
func (g *Gateway) NeedLeaderElection() bool { return false }

// Start serves on Options.BindAddress until ctx ends, then lets requests
// in flight finish (their Purges are created and answered).
func (g *Gateway) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", g.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("purge gateway: listening on %s: %w", g.opts.BindAddress, err)
	}
	return g.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, as Start does.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	if g.opts.CertDir != "" {
		watcher, err := certwatcher.New(filepath.Join(g.opts.CertDir, "tls.crt"), filepath.Join(g.opts.CertDir, "tls.key"))
		if err != nil {
			return fmt.Errorf("purge gateway: loading TLS certificate: %w", err)
		}
		go func() {
			if err := watcher.Start(ctx); err != nil {
				g.log.Error(err, "Watching the TLS certificate stopped")
			}
		}()
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	g.log.Info("Serving the purge gateway", "address", ln.Addr().String(), "tls", g.opts.CertDir != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("purge gateway: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("purge gateway: shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("purge gateway: %w", err)
	}
	return nil
}
