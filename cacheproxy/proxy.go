package cacheproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Proxy is an HTTP caching reverse proxy in front of one origin. It is an
// http.Handler for the public port; AdminHandler serves the admin port.
// Create it with New and stop its background work with Close.
type Proxy struct {
	cfg   Config
	hosts map[string]bool // normalised served hosts; nil means all
	log   *slog.Logger
	via   string // this proxy's Via pseudonym (loop.go)

	store    *store
	bans     banList
	inflight *inflight              // fetches in flight, for invalidations to reach
	flights  flightGroup            // coalesces concurrent fetches of one object (coalesce.go)
	rp       *httputil.ReverseProxy // passes (pass.go)
	// fillTransport sends fills (fetch.go): the origin client for an
	// http:// origin, else Config.Transport or an http.Transport.
	fillTransport *instrumentedTransport
	// fillClient is the origin client when fills write their request
	// head straight from the client's request (fillhead.go), else nil.
	fillClient  *originClient
	copyBuffers *bufferPool // fills' body copy buffers
	metrics     *metrics
	ids         *idempotency

	refetchSem chan struct{} // bounds refetches in flight
	refreshSem chan struct{} // bounds background refreshes in flight
	token      *adminToken
	ready      atomic.Bool

	// refreshMu guards refreshing, the keys being refreshed in the background.
	refreshMu  sync.Mutex
	refreshing map[string]struct{}

	// afterRefresh, if set (tests only), runs when a background refresh ends.
	afterRefresh func(key string)
	// afterFetch, if set (tests only), runs when a fetch has stored its
	// answer or decided not to.
	afterFetch func(key string, requestTime int64)

	bgCtx  context.Context // cancelled by Close; parent of all background work
	stop   context.CancelFunc
	bgWG   sync.WaitGroup
	closed atomic.Bool
}

// Interface guard: a Proxy serves the public port.
var _ http.Handler = (*Proxy)(nil)

// New returns a Proxy for cfg, ready to serve, with its ban sweeper running.
func New(cfg Config) (*Proxy, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:        cfg,
		log:        cfg.Logger,
		via:        newViaPseudonym(),
		store:      newStore(cfg.CacheSize, cfg.Shards),
		ids:        newIdempotency(cfg.IdempotencyEntries, cfg.IdempotencyTTL, cfg.IdempotencyBytes),
		inflight:   newInflight(),
		refetchSem: make(chan struct{}, cfg.RefetchConcurrency),
		refreshSem: make(chan struct{}, cfg.RefreshConcurrency),
		refreshing: make(map[string]struct{}),
	}
	if len(cfg.Hosts) > 0 {
		p.hosts = make(map[string]bool, len(cfg.Hosts))
		for _, h := range cfg.Hosts {
			p.hosts[cachekey.Host(h)] = true
		}
	}
	if p.token, err = newAdminToken(cfg.AdminToken, cfg.AdminTokenFile, cfg.Logger); err != nil {
		return nil, err
	}
	p.metrics = newMetrics(p)
	transport, fills := cfg.Transport, cfg.Transport
	if transport == nil {
		transport, fills = newOriginTransport(cfg.OriginTimeout), nil
	}
	if fills == nil && cfg.Origin.Scheme == schemeHTTP {
		c := newOriginClient(originAddr(cfg.Origin.Host), cfg.OriginTimeout)
		if directFills(cfg.Origin) {
			p.fillClient = c
		}
		fills = c
	} else if fills == nil {
		fills = transport
	}
	p.copyBuffers = newBufferPool()
	p.fillTransport = &instrumentedTransport{next: fills, m: p.metrics}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &instrumentedTransport{next: transport, m: p.metrics},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(slogWriter{p.log}, "", 0),
		BufferPool:     p.copyBuffers,
	}
	p.bgCtx, p.stop = context.WithCancel(context.Background())
	p.ready.Store(true)
	p.goBackground(p.sweepLoop)
	return p, nil
}

// newOriginTransport returns the transport used when Config.Transport is nil.
func newOriginTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // never send origin traffic through HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass encodings through untouched: Vary: Accept-Encoding is the origin's business
	}
}

// Close stops the background work (ban sweeper, refreshes, refetches) and
// waits for it. In-flight client requests are the http.Server's to drain.
func (p *Proxy) Close() error {
	if p.closed.CompareAndSwap(false, true) {
		p.stop()
		p.bgWG.Wait()
		if c, ok := p.fillTransport.next.(*originClient); ok {
			c.CloseIdleConnections()
		}
	}
	return nil
}

// SetReady sets what /readyz answers: 200 when true, 503 when false. A new
// Proxy is ready; a server that starts draining sets it false.
func (p *Proxy) SetReady(ready bool) { p.ready.Store(ready) }

// goBackground runs fn in a goroutine Close waits for; false once closed.
func (p *Proxy) goBackground(fn func()) bool {
	p.bgWG.Add(1)
	if p.closed.Load() {
		p.bgWG.Done()
		return false
	}
	go func() {
		defer p.bgWG.Done()
		fn()
	}()
	return true
}

// errClosed is returned for work refused after Close.
var errClosed = errors.New("proxy closed")

// now is the injected clock's time in unix nanoseconds, the unit of every
// time an object stores.
func (p *Proxy) now() int64 { return p.cfg.Now().UnixNano() }

// servesHost reports whether requests for the normalised host are served.
// A --host without a port admits that host on any port (clients may reach
// the proxy through any port mapping); one with a port admits only it.
func (p *Proxy) servesHost(host string) bool { return servedIn(p.hosts, host) }

// servedIn is servesHost over a set of hosts, for a host in a string or,
// on the fast path, in bytes (a map index with string(b) does not allocate).
func servedIn[T string | []byte](hosts map[string]bool, host T) bool {
	if hosts == nil || hosts[string(host)] {
		return true
	}
	for i := len(host) - 1; i >= 0 && host[i] != ']'; i-- {
		if host[i] == ':' {
			return hosts[string(host[:i])]
		}
	}
	return false
}

// ServeHTTP answers a client request: from the cache when it can, from the
// origin otherwise.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.checkFraming(w, r) {
		return
	}
	if r.Host == "" {
		// HTTP/1.0 without Host: the origin is asked with its own host, so
		// key it there too, where a purge URL can name it (red team C8).
		r.Host = p.cfg.Origin.Host
	}
	if p.looped(r) {
		p.refuse(w, http.StatusLoopDetected, "this request came back to the proxy that forwarded it: the origin leads back to the proxy")
		return
	}
	host, key := requestKey(r)
	if !p.servesHost(host) {
		p.refuse(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served by this proxy", r.Host))
		return
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if r.Header["Upgrade"] != nil {
			p.pass(w, r, key, fwdBypass, "upgrade", false)
			return
		}
		if r.ContentLength != 0 {
			// A body may select the answer ("fat GET", red team C2), and
			// it is not part of the key: neither serve a stored answer nor
			// store this one.
			p.pass(w, r, key, fwdBypass, "request-body", false)
			return
		}
		p.serveCacheable(w, r, key)
	case isInvalidationMethod(r.Method):
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
		p.refuse(w, http.StatusMethodNotAllowed, r.Method+" is not accepted on the public port; invalidate through the admin API")
	case r.Method == "PRI":
		// The HTTP/2 preface sent to an HTTP/1.1 port is not a request.
		p.refuse(w, http.StatusHTTPVersionNotSupported, "HTTP/2 without TLS (h2c) is not spoken here")
	case isSafeMethod(r.Method):
		p.pass(w, r, key, fwdMethod, "", false)
	default:
		// RFC 9111 §4.4: any method not known to be safe may change the
		// resource, so a non-error answer invalidates it.
		p.pass(w, r, key, fwdMethod, "", !p.cfg.DisableUnsafeMethodInvalidation)
	}
}

// isSafeMethod reports the methods registered as safe (RFC 9110 §9.2.1 and
// the IANA method registry) other than GET and HEAD: they pass through and
// invalidate nothing. Every other method, unknown ones included, is treated
// as unsafe.
func isSafeMethod(m string) bool {
	switch m {
	case http.MethodOptions, http.MethodTrace, "PROPFIND", "REPORT", "SEARCH", "QUERY":
		return true
	}
	return false
}

// isInvalidationMethod reports the CDN invalidation methods the public port
// refuses (any letter case): they must never reach the cache or the origin.
func isInvalidationMethod(m string) bool {
	for _, name := range [...]string{"PURGE", "BAN", "SOFTPURGE", "FASTLYPURGE", "REFRESH", "XKEY"} {
		if strings.EqualFold(m, name) {
			return true
		}
	}
	return false
}

// refuse answers a request the public port does not serve, without
// touching the cache or the origin; no-store keeps the refusal out of
// caches downstream.
func (p *Proxy) refuse(w http.ResponseWriter, status int, msg string) {
	p.answer(w, status, cacheStatus{fwd: fwdBypass, detail: detailRefused}, msg)
}

// answer writes an answer of the proxy's own, never stored downstream.
func (p *Proxy) answer(w http.ResponseWriter, status int, cs cacheStatus, msg string) {
	p.metrics.count(outcomeRefused)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Cache-Status", cs.String())
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}

// serveCacheable answers GET and HEAD: a fresh hit, a stale copy while one
// background request refreshes it, or a (coalesced) fetch from the origin.
func (p *Proxy) serveCacheable(w http.ResponseWriter, r *http.Request, key string) {
	now := p.now()
	obj, vary := p.lookup(key, r.Header)
	if obj != nil {
		if obj.fresh(now) {
			p.metrics.count(outcomeHit)
			p.serveObject(w, r, obj, now, cacheStatus{hit: true, ttl: obj.ttl(now), hasTTL: true})
			return
		}
		if obj.staleUsable(now, obj.swr, p.cfg.SoftPurgeGrace) {
			p.refreshInBackground(r, key, obj)
			p.metrics.count(outcomeStale)
			detail := detailStaleWhileRevalidate
			if obj.softPurgedAt.Load() != 0 {
				detail = detailSoftPurged
			}
			p.serveObject(w, r, obj, now, cacheStatus{fwd: fwdStale, ttl: obj.ttl(now), hasTTL: true, detail: detail})
			return
		}
	}
	if obj == nil && r.Header["Range"] != nil {
		// Fetching a whole object to answer a range of it could cost far
		// more than the client asked for; let the origin answer.
		p.pass(w, r, key, fwdBypass, detailRange, false)
		return
	}
	fwd := fwdURIMiss
	switch {
	case obj != nil:
		fwd = fwdStale
	case vary != nil:
		fwd = fwdVaryMiss
	}
	p.fetchCoalesced(w, r, key, obj, vary, fwd)
}

// lookup finds the stored variant for a request, dropping it when a ban
// applies (so a ban takes effect on the very next request).
func (p *Proxy) lookup(key string, h http.Header) (*object, []string) {
	for {
		o, vary := p.store.lookup(key, h)
		if o == nil || !p.bans.banned(o) {
			return o, vary
		}
		p.store.remove(o)
	}
}

// serveObject writes a stored object. The stored header slices are shared,
// not copied: the hit path allocates only the Age and Cache-Status values.
// The body is in the object's data: o is kept alive until it is written
// (slab.go).
func (p *Proxy) serveObject(w http.ResponseWriter, r *http.Request, o *object, now int64, cs cacheStatus) {
	defer runtime.KeepAlive(o)
	if !o.visited.Load() {
		o.visited.Store(true)
	}
	h := w.Header()
	for _, f := range o.fields() {
		h[f.name] = f.values
	}
	ageSec := int64(o.age(now) / time.Second)
	if cs.hit && !cs.collapsed {
		ttlSec := ttlSeconds(cs.ttl)
		h["Age"], h["Cache-Status"] = o.hitValues(ageSec, ttlSec, cs)
	} else {
		h["Age"] = []string{strconv.FormatInt(ageSec, 10)}
		h["Cache-Status"] = []string{cs.after(o.upstreamStatus())}
	}
	if o.status == http.StatusOK && notModified(r.Header, o) {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if o.status == http.StatusOK && r.Header["Range"] != nil && r.Method == http.MethodGet {
		if h["Content-Type"] == nil {
			h["Content-Type"] = nil // no sniffing: serve what the origin said
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(o.body))
		return
	}
	w.WriteHeader(int(o.status))
	if r.Method != http.MethodHead {
		_, _ = w.Write(o.body)
	}
}

// slogWriter adapts the ReverseProxy's log.Logger to slog at debug level:
// what it logs (client disconnects mid-copy) is routine for a proxy.
type slogWriter struct{ l *slog.Logger }

func (s slogWriter) Write(b []byte) (int, error) {
	s.l.Debug("Reverse proxy", "message", strings.TrimSpace(string(b)))
	return len(b), nil
}

// bufferPool recycles the 32 KiB buffers bodies are copied through: the
// ReverseProxy's (httputil.BufferPool) and the fills'.
type bufferPool struct{ p sync.Pool }

// Interface guard: the ReverseProxy copies through a bufferPool.
var _ httputil.BufferPool = (*bufferPool)(nil)

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *b.get() }
func (b *bufferPool) Put(v []byte) { b.put(&v) }

// get and put pass the buffer by pointer, which costs no allocation.
func (b *bufferPool) get() *[]byte  { return b.p.Get().(*[]byte) }
func (b *bufferPool) put(v *[]byte) { b.p.Put(v) }
