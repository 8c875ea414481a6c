// Command cacheproxy runs the caching reverse proxy of package cacheproxy:
// the public port forwards to one origin and caches, the admin port serves
// invalidations, stats, health and metrics. Run with --help for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy"
)

func main() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr, sig, nil))
}

// run is the whole program; it returns the exit status. listening, if not
// nil, is told the bound addresses (tests).
func run(args []string, getenv func(string) string, stderr io.Writer, signals <-chan os.Signal, listening func(public, admin net.Addr)) int {
	opts, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproxy: %v\nRun cacheproxy --help for usage.\n", err)
		return 2
	}
	logger := newLogger(stderr, opts.logLevel, opts.logFormat)
	if err := serve(opts, logger, signals, listening); err != nil {
		logger.Error("Exiting", "error", err)
		return 1
	}
	return 0
}

// serve runs the proxy until a signal, then drains and returns nil.
func serve(opts options, logger *slog.Logger, signals <-chan os.Signal, listening func(public, admin net.Addr)) error {
	if opts.memoryLimit > 0 {
		debug.SetMemoryLimit(opts.memoryLimit)
	}
	if opts.gcHeadroom > 0 {
		ctx, stop := context.WithCancel(context.Background())
		tuned := make(chan struct{})
		go func() {
			defer close(tuned)
			cacheproxy.TuneGC(ctx, opts.gcHeadroom, time.Second)
		}()
		defer func() {
			stop()
			<-tuned
		}()
	}
	cfg := opts.config
	cfg.Logger = logger
	p, err := cacheproxy.New(cfg)
	if err != nil {
		return err
	}
	defer p.Close()

	// Nothing cancels start-up (signals are read once both servers run),
	// so binding gets a background context.
	var lc net.ListenConfig
	publicLn, err := lc.Listen(context.Background(), "tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("public listener: %w", err)
	}
	adminLn, err := lc.Listen(context.Background(), "tcp", opts.adminListen)
	if err != nil {
		publicLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	errLog := log.New(&slogWriter{logger}, "", 0)
	public := cacheproxy.NewServer(p, &http.Server{Handler: p, ReadHeaderTimeout: opts.readHeaderTimeout, IdleTimeout: opts.idleTimeout, ErrorLog: errLog})
	public.DisableFastPath = !opts.fastPath
	adminSrv := &http.Server{Handler: p.AdminHandler(), ReadHeaderTimeout: opts.readHeaderTimeout, IdleTimeout: opts.idleTimeout, ErrorLog: errLog}
	failed := make(chan error, 2)
	go func() { failed <- public.Serve(publicLn) }()
	go func() { failed <- adminSrv.Serve(adminLn) }()
	logger.Info("Serving", "listen", publicLn.Addr().String(), "adminListen", adminLn.Addr().String(), "fastPath", opts.fastPath,
		"origin", cfg.Origin.String(), "cacheSize", cacheproxy.FormatQuantity(cfg.CacheSize), "hosts", cfg.Hosts, "memoryLimit", opts.memoryLimit)
	if listening != nil {
		listening(publicLn.Addr(), adminLn.Addr())
	}

	var s os.Signal
	select {
	case s = <-signals:
	case err := <-failed:
		return fmt.Errorf("server stopped: %w", err)
	}
	// Draining: readiness fails at once so endpoints drop this pod; on
	// SIGTERM keep serving for --shutdown-delay while they notice, then stop
	// accepting and let in-flight requests finish within --shutdown-grace.
	p.SetReady(false)
	logger.Info("Draining", "signal", s.String(), "shutdownDelay", opts.shutdownDelay, "shutdownGrace", opts.shutdownGrace)
	if s == syscall.SIGTERM && opts.shutdownDelay > 0 {
		select {
		case <-time.After(opts.shutdownDelay):
		case <-signals: // a second signal skips the delay
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.shutdownGrace)
	defer cancel()
	err = public.Shutdown(ctx)
	if aerr := adminSrv.Shutdown(ctx); err == nil {
		err = aerr
	}
	if err != nil {
		logger.Warn("Shutdown grace over, closing remaining connections", "error", err)
		public.Close()
		adminSrv.Close()
	}
	logger.Info("Stopped")
	return nil
}

// options are the parsed flags.
type options struct {
	fastPath          bool
	config            cacheproxy.Config
	listen            string
	adminListen       string
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	shutdownDelay     time.Duration
	shutdownGrace     time.Duration
	memoryLimit       int64
	gcHeadroom        int64 // 0: GOGC as the runtime has it
	logLevel          slog.Level
	logFormat         string
}

// hostList is the repeatable --host flag.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*h = append(*h, part)
		}
	}
	return nil
}

// quantityFlag is a byte count flag accepting Kubernetes-style quantities.
type quantityFlag struct{ n *int64 }

func (q quantityFlag) String() string {
	if q.n == nil || *q.n == 0 {
		return ""
	}
	return cacheproxy.FormatQuantity(*q.n)
}
func (q quantityFlag) Set(v string) error {
	n, err := cacheproxy.ParseQuantity(v)
	if err != nil {
		return err
	}
	*q.n = n
	return nil
}

const usageHeader = `cacheproxy: an HTTP caching reverse proxy with an invalidation API.

Usage:
  cacheproxy --origin=URL --admin-token-file=FILE [flags]

The public port (--listen) forwards every request to --origin and caches
GET and HEAD responses as RFC 9111 allows a shared cache to. The admin port
(--admin-listen) serves POST /v1/invalidations and GET /v1/stats (bearer
token required), and /healthz, /readyz, /metrics (no token). The token file
is read again whenever it changes: a mounted Secret rotates without a restart.
Sizes accept bytes or Kubernetes quantities: 1048576, 500M, 256Mi, 1Gi.
SIGTERM: /readyz turns 503, serving goes on for --shutdown-delay, then the
servers drain within --shutdown-grace and the process exits 0 (SIGINT skips
the delay).

Flags:
`

// parseFlags parses args; getenv reads GOMEMLIMIT and GOGC.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (options, error) {
	var (
		o                  options
		origin, tokenFile  string
		logLevel           string
		memLimit           string
		hosts              hostList
		invalidateOnUnsafe bool
		cacheSize, maxObj  int64
		fs                 = flag.NewFlagSet("cacheproxy", flag.ContinueOnError)
	)
	cacheSize = cacheproxy.DefaultCacheSize
	fs.SetOutput(out)
	fs.Usage = func() {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(out)
		fmt.Fprint(out, usageHeader+"  -"+strings.ReplaceAll(b.String(), "\n  -", "\n  --")[2:])
	}
	fs.StringVar(&origin, "origin", "", "origin server `URL` every request is forwarded to, e.g. http://web.default.svc:8080 (required)")
	fs.StringVar(&o.listen, "listen", ":8080", "public `address` (host:port) for clients")
	fs.StringVar(&o.adminListen, "admin-listen", ":9090", "admin API `address` (host:port); keep it off the public network")
	fs.StringVar(&tokenFile, "admin-token-file", "", "`file` holding the admin bearer token (one line; surrounding whitespace ignored), read again whenever it changes, so a mounted Secret rotates without a restart (required)")
	fs.Var(&hosts, "host", "a Host `name` this proxy serves (repeatable, or comma separated); other hosts get 421, and invalidations naming them get 400; without a port it matches any port. Without it every host is served; refetches still only go to --origin")
	fs.Var(quantityFlag{&cacheSize}, "cache-size", "memory bound for stored objects (`bytes` or quantity); the least valuable objects are evicted beyond it")
	fs.Var(quantityFlag{&maxObj}, "max-object-size", "largest body stored (`bytes` or quantity); larger responses are streamed, not stored (default cache-size/8, at most 64Mi)")
	fs.DurationVar(&o.config.OriginTimeout, "origin-timeout", cacheproxy.DefaultOriginTimeout, "bound on connecting to the origin and waiting for response headers; past it clients get 504 or a stale copy")
	fs.DurationVar(&o.config.WriteTimeout, "write-timeout", cacheproxy.DefaultWriteTimeout, "a client that takes no byte of an answer (a fetched one, or a hit on the fast path) for this long is disconnected, so a slow reader holds no one else")
	fs.BoolVar(&invalidateOnUnsafe, "invalidate-on-unsafe-methods", true, "a client's successful POST, PUT, DELETE, PATCH or other unsafe request removes the cached URL (RFC 9111 §4.4); false closes that unauthenticated invalidation path, leaving the admin API and expiry")
	fs.DurationVar(&o.config.RequestBodyTimeout, "request-body-timeout", cacheproxy.DefaultRequestBodyTimeout, "how long in all the proxy waits for a client's request body, one second given back per --request-body-min-rate bytes received; a client that stalls or trickles gets 408 (the first 64Ki of a body are read before the origin is asked)")
	fs.Int64Var(&o.config.RequestBodyMinRate, "request-body-min-rate", cacheproxy.DefaultRequestBodyMinRate, "`bytes` per second a request body must keep up on average (see --request-body-timeout)")
	fs.DurationVar(&o.config.FetchTimeout, "fetch-timeout", cacheproxy.DefaultFetchTimeout, "bound on a whole fetch no client waits for: background refresh, refetch, a miss still being stored after its client left")
	fs.DurationVar(&o.config.SoftPurgeGrace, "soft-purge-grace", cacheproxy.DefaultSoftPurgeGrace, "how long after a soft purge the object may be served stale (while refreshing, and instead of origin errors)")
	fs.IntVar(&o.config.RefetchConcurrency, "refetch-concurrency", cacheproxy.DefaultRefetchConcurrency, "refetches in flight at most, over all invalidations")
	fs.IntVar(&o.config.IdempotencyEntries, "idempotency-entries", cacheproxy.DefaultIdempotencyEntries, "invalidation ids remembered at most (a repeated id returns the first answer)")
	fs.DurationVar(&o.config.IdempotencyTTL, "idempotency-ttl", cacheproxy.DefaultIdempotencyTTL, "how long an invalidation id is remembered after its first receipt")
	fs.Var(quantityFlag{&o.config.IdempotencyBytes}, "idempotency-bytes", "memory bound (`bytes` or quantity) of remembered invalidation ids and their answers; the oldest are forgotten beyond it (default 8Mi)")
	fs.DurationVar(&o.config.BanSweepInterval, "ban-sweep-interval", cacheproxy.DefaultBanSweepInterval, "how often banned objects are swept from memory (bans take effect at once regardless)")
	fs.BoolVar(&o.fastPath, "fast-path", true, "answer HTTP/1.1 cache hits on the public port without net/http (pre-rendered heads, one write per response); everything else is served by net/http as with false")
	fs.BoolVar(&o.config.RewriteHost, "rewrite-host", false, "send the origin's host as Host instead of the client's")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "bound on reading a client's request headers (both ports)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "keep-alive connections idle longer are closed (both ports)")
	fs.DurationVar(&o.shutdownDelay, "shutdown-delay", 3*time.Second, "on SIGTERM, keep serving this long after /readyz turns 503, so load balancers stop sending first")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", 25*time.Second, "bound on draining in-flight requests at shutdown")
	fs.StringVar(&memLimit, "memory-limit", "auto", "Go runtime soft memory limit (GOMEMLIMIT): `auto` is cache-size + 25% + 32Mi (the GC works harder near it, so the process stays close to --cache-size), \"off\" leaves the runtime default, or a quantity; ignored when GOMEMLIMIT is set")
	o.gcHeadroom = cacheproxy.DefaultGCHeadroom
	fs.Var(quantityFlag{&o.gcHeadroom}, "gc-headroom", "once the live Go heap (mostly stored objects) is larger than this (`bytes` or quantity), the garbage collector runs after about this much allocation instead of after as much as the live heap (GOGC lowered, down to 25): RSS per stored object falls by a sixth to a fifth, to below Varnish's, at the price of more collections when the store is large (docs/benchmarks.md); 0 leaves GOGC at 100; ignored when GOGC is set")
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if origin == "" {
		return o, errors.New("--origin is required")
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("--origin %q: want an absolute http:// or https:// URL", origin)
	}
	o.config.Origin = u
	o.config.Hosts = hosts
	o.config.DisableUnsafeMethodInvalidation = !invalidateOnUnsafe
	if o.readHeaderTimeout <= 0 {
		return o, errors.New("--read-header-timeout must be positive: without it a client that never finishes its headers holds a connection forever")
	}
	if o.config.RequestBodyTimeout <= 0 || o.config.RequestBodyMinRate <= 0 {
		return o, errors.New("--request-body-timeout and --request-body-min-rate must be positive: without them a client that trickles its body holds a connection, and an origin connection, forever")
	}
	o.config.CacheSize = cacheSize
	o.config.MaxObjectSize = maxObj
	if cacheSize <= 0 {
		return o, errors.New("--cache-size must be positive")
	}
	if maxObj > cacheSize {
		return o, fmt.Errorf("--max-object-size %s exceeds --cache-size %s", cacheproxy.FormatQuantity(maxObj), cacheproxy.FormatQuantity(cacheSize))
	}
	if tokenFile == "" {
		return o, errors.New("--admin-token-file is required: the admin API runs only with a token")
	}
	if _, err := cacheproxy.ReadAdminTokenFile(tokenFile); err != nil {
		return o, fmt.Errorf("--admin-token-file: %w", err)
	}
	o.config.AdminTokenFile = tokenFile
	if err := o.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return o, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	if getenv("GOGC") != "" {
		o.gcHeadroom = 0
	}
	switch {
	case getenv("GOMEMLIMIT") != "" || memLimit == "off":
	case memLimit == "auto":
		o.memoryLimit = cacheSize + cacheSize/4 + 32<<20
	default:
		if o.memoryLimit, err = cacheproxy.ParseQuantity(memLimit); err != nil {
			return o, fmt.Errorf("--memory-limit: %w", err)
		}
	}
	return o, nil
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// slogWriter sends net/http's server error log to slog.
type slogWriter struct{ l *slog.Logger }

func (s *slogWriter) Write(b []byte) (int, error) {
	s.l.Debug("HTTP server", "message", strings.TrimSpace(string(b)))
	return len(b), nil
}
