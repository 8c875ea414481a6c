// Package cacheproxy is an HTTP caching reverse proxy (a shared cache per
// RFC 9111, with RFC 5861's stale-while-revalidate and stale-if-error and
// RFC 9211's Cache-Status) whose content is invalidated through the admin
// API of package admin: simple and soft purges by URL or tag, bans by URL
// pattern, refetch, dry runs, idempotent by id.
//
// A Proxy is an http.Handler for the public port; AdminHandler is the
// handler for the admin port. The program cmd/cacheproxy wires both into
// http.Servers.
//
// One file per concern:
//
//	proxy.go         the request story: hit, stale, coalesced fetch, pass
//	fetch.go         origin requests through httputil.ReverseProxy, storing
//	freshness.go     storability and freshness (RFC 9111 §3, §4.2)
//	vary.go          Vary variants
//	revalidate.go    conditional requests and 304 refresh
//	store.go         sharded storage, memory bound, SIEVE eviction, tag index
//	object.go        the stored object
//	key.go           cache key normalisation
//	ban.go           ban list, lazy check, background sweeper
//	tags.go          surrogate keys
//	invalidate.go    invalidation semantics (purge, soft purge, ban, time T)
//	idempotency.go   ids remembered and answered again
//	refetch.go       purge and warm up
//	adminhandler.go  the admin HTTP API
//	metrics.go       Prometheus metrics on the Proxy's own registry
//	errors.go        origin failures → 502/504
//	cachestatus.go   the Cache-Status header
//	quantity.go      "256Mi" and friends
//
// Decisions a user may want to know: the scheme is not part of the cache
// key and ports 80 and 443 are both dropped from it (key.go); clients'
// request Cache-Control directives other than no-store are ignored, as
// CDNs do, so a shift-reload cannot bypass the cache and load the origin;
// responses carrying Set-Cookie are never stored; a HEAD miss is fetched
// with GET so the object can be stored; a Range request is answered from a
// stored object, and passed to the origin on a miss.
package cacheproxy
