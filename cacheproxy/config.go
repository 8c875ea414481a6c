package cacheproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Proxy. Only Origin is required; every other field says
// what happens when it is left zero.
type Config struct {
	// Origin is the server every request is forwarded to, e.g.
	// "http://web.web.svc:8080". A path in it prefixes request paths.
	// Required.
	Origin *url.URL

	// Hosts are the Host values this proxy serves. Requests for another host
	// get 421 Misdirected Request, and invalidations or refetches naming
	// another host are refused. A host without a port is served on any port
	// ("www.example.com" admits "www.example.com:8080", whose objects are
	// keyed apart, key.go); one with a port only on that port. Empty means
	// every host is served; refetches still always go to Origin, never to
	// the host a URL names.
	Hosts []string

	// RewriteHost sends Origin's host as the Host header instead of the
	// client's. False (the default) keeps the client's Host, as virtual
	// hosts behind the proxy expect.
	RewriteHost bool

	// DisableUnsafeMethodInvalidation keeps cached objects when a client's
	// request with an unsafe method (POST, PUT, DELETE, PATCH, or any method
	// not known to be safe) succeeds. False (the default) removes the
	// target URL and the same-host Location and Content-Location, as RFC
	// 9111 §4.4 asks of a shared cache; but that lets any client of the
	// public port evict any URL the origin accepts such a request for. True
	// closes that unauthenticated path: content then changes only by
	// expiry and through the admin API.
	DisableUnsafeMethodInvalidation bool

	// CacheSize bounds the memory charged to stored objects, in bytes.
	// Zero means 256 MiB.
	CacheSize int64

	// MaxObjectSize is the largest response body stored; larger bodies are
	// streamed to the client and not stored. Zero means CacheSize/8, capped
	// at 64 MiB. It may not exceed CacheSize.
	MaxObjectSize int64

	// OriginTimeout bounds connecting to the origin and waiting for its
	// response headers; past it the client gets 504 (or a stale copy). It
	// also bounds each wait for the next bytes of a body being stored: one
	// that stalls longer is abandoned and not stored. Zero means 30s.
	OriginTimeout time.Duration

	// FetchTimeout bounds a whole fetch that no client waits for: a
	// background refresh, a refetch, or a miss being stored after its client
	// left. Zero means 2m.
	FetchTimeout time.Duration

	// WriteTimeout bounds each write of a fetched answer to a client: a
	// client that takes no byte for this long is disconnected, so that a
	// slow reader holds neither the fetch nor the other clients of the
	// same object for longer. On the fast path (Server) it bounds every
	// answer the same way, hits included, unless the http.Server's
	// WriteTimeout already bounds it (h1write.go). Zero means 30s.
	WriteTimeout time.Duration

	// RequestBodyTimeout and RequestBodyMinRate bound how long a client
	// may take to send a request body (reqbody.go): the proxy waits for
	// the client's bytes at most RequestBodyTimeout in all, and every
	// RequestBodyMinRate bytes received give back one second of it, up to
	// RequestBodyTimeout. A client that stalls that long, or sends slower
	// than RequestBodyMinRate bytes a second for long enough, gets 408
	// Request Timeout and its connection is closed. The first 64 KiB of a
	// body are read before the origin is contacted. Zero means 20s and 500
	// bytes a second (Apache's mod_reqtimeout defaults).
	RequestBodyTimeout time.Duration
	RequestBodyMinRate int64

	// SoftPurgeGrace is how long after a soft purge the object may still be
	// served stale: while one background request refreshes it, and instead
	// of an origin error. After it, the object is an ordinary stale object
	// (its own stale-while-revalidate and stale-if-error still apply). Zero
	// means 1h; objects whose origin said must-revalidate, proxy-revalidate
	// or no-cache are never served stale.
	SoftPurgeGrace time.Duration

	// RefetchConcurrency bounds the refetches in flight, over all
	// invalidations. Zero means 8.
	RefetchConcurrency int

	// RefreshConcurrency bounds the background refreshes in flight
	// (stale-while-revalidate, soft purges): a stale object whose refresh
	// cannot start is still served stale, and a later request refreshes it,
	// so a soft purge of many objects does not open as many origin
	// connections at once. Zero means 32.
	RefreshConcurrency int

	// IdempotencyEntries and IdempotencyTTL bound the memory of invalidation
	// ids: a repeated id returns the first answer while it is remembered,
	// i.e. for IdempotencyTTL after its first receipt, and among the newest
	// IdempotencyEntries ids. Zero means 10000 and 24h.
	IdempotencyEntries int
	IdempotencyTTL     time.Duration

	// IdempotencyBytes bounds the memory of remembered ids and their
	// answers, in bytes: the oldest ids are forgotten first while more is
	// remembered. An answer keeps at most 20 error messages of at most 512
	// bytes each. Zero means 8 MiB, enough for 10000 ids with a few errors
	// each; at least 64 KiB.
	IdempotencyBytes int64

	// BanSweepInterval is how often the background sweeper removes banned
	// objects and forgets bans every object has been checked against. Zero
	// means 10s. Bans take effect at once regardless; the sweep only frees
	// memory.
	BanSweepInterval time.Duration

	// AdminToken is the bearer token the admin API requires. AdminHandler
	// refuses every authenticated call while it and AdminTokenFile are
	// empty. Set at most one of the two.
	AdminToken string

	// AdminTokenFile is a file holding the admin API's bearer token
	// (surrounding whitespace ignored; one line). New fails unless it
	// holds one; afterwards it is read again whenever it changes, so a
	// token mounted from a Kubernetes Secret rotates without a restart:
	// once the new file is in place the new token is accepted and the old
	// one refused. While the file is missing, empty or holds more than one
	// line, every authenticated call is refused (logged once).
	AdminTokenFile string

	// Transport sends requests to the origin. Nil means cache fills to an
	// http:// origin go through the proxy's own HTTP/1.1 client
	// (originclient.go: kept-alive connections, OriginTimeout for dialling
	// and response headers), and everything else through an http.Transport
	// tuned for a reverse proxy (keep-alives, no transparent compression,
	// the same timeouts).
	Transport http.RoundTripper

	// Now returns the current time. Nil means time.Now. Tests inject a
	// clock to drive freshness, soft purges and idempotency.
	Now func() time.Time

	// Logger receives errors and notable events. Nil means slog.Default().
	Logger *slog.Logger

	// Shards is the number of lock domains of the store, rounded up to a
	// power of two. Zero means 256.
	Shards int
}

// Defaults of Config's zero fields.
const (
	DefaultCacheSize          = 256 << 20
	DefaultOriginTimeout      = 30 * time.Second
	DefaultFetchTimeout       = 2 * time.Minute
	DefaultWriteTimeout       = 30 * time.Second
	DefaultSoftPurgeGrace     = time.Hour
	DefaultRequestBodyTimeout = 20 * time.Second
	DefaultRequestBodyMinRate = 500
	DefaultRefetchConcurrency = 8
	DefaultRefreshConcurrency = 32
	DefaultIdempotencyEntries = 10000
	DefaultIdempotencyTTL     = 24 * time.Hour
	DefaultIdempotencyBytes   = 8 << 20
	minIdempotencyBytes       = 64 << 10
	DefaultBanSweepInterval   = 10 * time.Second
	DefaultShards             = 256
	maxDefaultObjectSize      = 64 << 20
	minBanSweepInterval       = 100 * time.Millisecond
)

// withDefaults returns c with zero fields set, or an error naming the first
// invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Origin == nil || (c.Origin.Scheme != schemeHTTP && c.Origin.Scheme != schemeHTTPS) || c.Origin.Host == "" {
		return c, errors.New("config: Origin must be an absolute http:// or https:// URL")
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.CacheSize < 0 {
		return c, fmt.Errorf("config: CacheSize %d is negative", c.CacheSize)
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = min(c.CacheSize/8, maxDefaultObjectSize)
	}
	if c.MaxObjectSize < 0 || c.MaxObjectSize > c.CacheSize {
		return c, fmt.Errorf("config: MaxObjectSize %d must be between 0 and CacheSize %d", c.MaxObjectSize, c.CacheSize)
	}
	setDefault(&c.OriginTimeout, DefaultOriginTimeout)
	setDefault(&c.FetchTimeout, DefaultFetchTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.SoftPurgeGrace, DefaultSoftPurgeGrace)
	setDefault(&c.RequestBodyTimeout, DefaultRequestBodyTimeout)
	setDefault(&c.RequestBodyMinRate, DefaultRequestBodyMinRate)
	setDefault(&c.IdempotencyTTL, DefaultIdempotencyTTL)
	setDefault(&c.BanSweepInterval, DefaultBanSweepInterval)
	setDefault(&c.RefetchConcurrency, DefaultRefetchConcurrency)
	setDefault(&c.RefreshConcurrency, DefaultRefreshConcurrency)
	setDefault(&c.IdempotencyEntries, DefaultIdempotencyEntries)
	setDefault(&c.Shards, DefaultShards)
	setDefault(&c.IdempotencyBytes, DefaultIdempotencyBytes)
	if c.IdempotencyBytes < minIdempotencyBytes {
		return c, fmt.Errorf("config: IdempotencyBytes %d is below %d: an id with its answer may take 11 KiB", c.IdempotencyBytes, minIdempotencyBytes)
	}
	n := 1
	for n < c.Shards {
		n <<= 1
	}
	c.Shards = n
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for i, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, "/ *") {
			return c, fmt.Errorf("config: Hosts[%d] %q is not a host name (wildcards are not supported)", i, h)
		}
	}
	if c.AdminToken != "" && c.AdminTokenFile != "" {
		return c, errors.New("config: set only one of AdminToken and AdminTokenFile")
	}
	if c.BanSweepInterval < minBanSweepInterval {
		return c, fmt.Errorf("config: BanSweepInterval %v is below %v; the sweeper would spin a core", c.BanSweepInterval, minBanSweepInterval)
	}
	return c, nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
