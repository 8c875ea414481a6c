// Package cacheproxy is an HTTP caching reverse proxy (a shared cache per
// RFC 9111, with RFC 5861's stale-while-revalidate and stale-if-error and
// RFC 9211's Cache-Status) whose content is invalidated through the admin
// API of package admin: simple and soft purges by URL or tag, bans by URL
// pattern, refetch, dry runs, idempotent by id.
//
// A Proxy is an http.Handler for the public port; AdminHandler is the
// handler for the admin port. The program cmd/cacheproxy serves the public
// port with a Server (fresh hits answered by a fast path of its own, every
// other request by net/http and the Proxy) and the admin port with an
// http.Server.
//
// One file per concern:
//
//	config.go        Config and its defaults
//	h1server.go      Server: the public port, a fast path for hits in front of net/http
//	framing.go       requests with both Content-Length and Transfer-Encoding
//	reqbody.go       request bodies: the first 64 KiB buffered, a minimum rate
//	h1request.go     the fast path's request reader (what it may answer, what goes to net/http)
//	hitpath.go       the fast path's hit: lookup and one write, no allocation
//	wirehead.go      an object's response head, rendered once
//	proxy.go         the request story: hit, stale, coalesced fetch, pass
//	coalesce.go      flights: concurrent misses share one fetch
//	stream.go        one answer read by every client of a flight at its own pace
//	fetch.go         a fill's origin exchange: the request as forwarded, the answer into the fill
//	fill.go          a fill's decisions: what to store, share or serve instead, and storing it
//	fillwriter.go    the answer's body into the fill's buffer and its clients' stream
//	originclient.go  the fills' HTTP/1.1 client: kept-alive origin connections, no goroutines
//	pass.go          requests the cache does not answer, through httputil.ReverseProxy
//	loop.go          forwarding loops: a Via pseudonym per proxy, 508
//	inflight.go      fetches in flight, marked by every invalidation
//	httpdate.go      strict HTTP dates (RFC 9110 §5.6.7)
//	freshness.go     storability and freshness (RFC 9111 §3, §4.2)
//	vary.go          Vary variants
//	revalidate.go    conditional requests and 304 refresh
//	store.go         sharded storage, memory bound, SIEVE eviction, tag index
//	object.go        the stored object
//	key.go           the keys of requests, purge URLs and ban patterns (normalisation: package cachekey)
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
// Decisions (each file's comment has the detail):
//
//   - Cache key: normalised host + path + query. The scheme is not part of
//     it, so ports 80 and 443 are both dropped ("example.com:443" and
//     "example.com" are one host); other ports are kept. Hosts are
//     lower-cased without a trailing dot, ports without leading zeros;
//     percent-encoding is normalised (RFC 3986 §6.2.2, and "%2A" is "*"),
//     dot segments resolved, runs of slashes merged and an empty query
//     dropped, and the origin is asked for that form, so every alias of a
//     URL is one object that a purge of the canonical URL removes; query
//     order is kept (package cachekey, key.go). A purge URL, which may not
//     hold "*", names a literal star "%2A"; so does a ban, whose "*" is
//     the wildcard.
//   - Storage: an object is a 192-byte struct and its key on the Go heap,
//     and one block without pointers outside it (the rendered response
//     head, the body up to 16 KiB, the upstream Cache-Status, the tags;
//     objectdata.go, slab.go). cmd/cacheproxy holds the collector's growth
//     near 64 MiB once the store dominates the heap (gctune.go,
//     --gc-headroom), so stored objects cost about their size in RSS, not
//     twice their heap size.
//   - Eviction: SIEVE per shard over a global byte count. Every object is
//     charged its data plus a measured overhead, so the charged bytes match
//     the heap within a few percent (BenchmarkMemoryPerObject,
//     BenchmarkMemoryPerObjectParsed).
//   - Bans: a Varnish-style ban list; O(1) registration, lazily checked on
//     lookup, swept in the background (ban.go). A "*" in a ban's host
//     matches within the host only; a request holds at most 16 patterns
//     with a wildcard host, whose matches are counted in one pass over the
//     keys (invalidate.go).
//   - Time T and idempotency: the first receipt of an id; purges affect
//     objects stored before T, where a revalidation counts as storing; ids
//     are remembered for IdempotencyTTL (24h) and at most
//     IdempotencyEntries (10000) within IdempotencyBytes (8 MiB); a
//     repeated id gets the first answer, or 409 Conflict when its body
//     differs (invalidate.go, idempotency.go).
//   - Tags are case-sensitive, as the origin sent them: a purge of tag
//     "prod-1" does not reach "PROD-1" (tags.go). Some CDNs fold case; an
//     origin that mixes cases should send one.
//   - Soft purge: stale at once, served stale (while one background request
//     refreshes it, and instead of origin errors) for SoftPurgeGrace (1h)
//     after the purge; never for must-revalidate, proxy-revalidate or
//     no-cache objects. A simple purge is never served stale. At most
//     RefreshConcurrency (32) background refreshes run at once.
//   - Stalls: a storable answer whose body sends nothing for OriginTimeout
//     is abandoned, not stored (its clients are cut as by a truncated
//     body); an answer not being stored may idle (event streams).
//   - Requests: clients' Cache-Control directives other than no-store are
//     ignored, as CDNs do, so a shift-reload cannot bypass the cache; a HEAD
//     miss is fetched with GET so the object can be stored; a Range request
//     is answered from a stored object and passed to the origin on a miss;
//     clients' If-None-Match / If-Modified-Since are answered from the cache;
//     a GET or HEAD with a body bypasses the cache both ways (the body is
//     not part of the key, and may select the answer).
//   - Forwarding: a fill drops the request fields frameworks read to
//     answer for another URL, method, host or scheme (X-Original-URL,
//     X-HTTP-Method-Override, X-Forwarded-Prefix and the like), which the
//     key does not hold; a refetch is forwarded as a client's miss is; a
//     request without Host is keyed under the origin's host it is fetched
//     with.
//   - Framing: a request with both Content-Length and Transfer-Encoding is
//     refused with 400, and a chunked request's connection is closed after
//     the answer (RFC 9112 §6.1; framing.go). This needs Server: under a
//     bare http.Server the Proxy can only close.
//   - Responses: Set-Cookie responses are never stored (one user's cookie
//     must not reach the next); qualified private="x" and no-cache="x" act
//     as their unqualified forms; explicit stale-while-revalidate and
//     stale-if-error apply even with s-maxage, while must-revalidate,
//     proxy-revalidate and no-cache forbid every stale use.
//   - Request bodies: the first 64 KiB are read before the origin is
//     asked (nginx's request buffering), so a slow client holds no origin
//     connection for a body that size; a complete chunked body is sent with
//     its length. Reading a body may make the proxy wait
//     RequestBodyTimeout (20s) in all, and every RequestBodyMinRate bytes
//     (500) give one second back, up to RequestBodyTimeout (Apache's
//     mod_reqtimeout): a stalled or trickled body gets 408 and a closed
//     connection, a streamed one is cut (reqbody.go). A per-read timeout
//     would not stop a byte-a-second trickle; a deadline on the whole body
//     would cut slow honest uploads.
//   - Cache-Status says "stored" only of a response already stored: the
//     header of a body being stored waits for the body up to 64 KiB, and a
//     longer body's header, sent before its end, never says it (stream.go).
//   - Coalescing: concurrent misses for one object (one Vary variant) make
//     one origin request; every client reads the answer as it arrives, at
//     its own pace, and one that takes no byte for WriteTimeout is cut off.
//     A response that cannot be stored is not shared: the first client gets
//     it, the others ask the origin as soon as its header arrives. The
//     exception is a server error that is not private, sets no cookie and
//     answers no Authorization: it is handed to the waiters (never stored),
//     so a failing origin gets one request, not one per waiter.
//   - Invalidations and fetches in flight: a fetch that started before an
//     invalidation never stores what it fetched (a soft purge lets it store
//     already stale), however long it runs (inflight.go).
//   - Memory: stored objects and bodies being buffered share CacheSize; a
//     miss that finds no room streams without storing.
//   - CDN-Cache-Control (RFC 9213), when present, decides storage and
//     freshness instead of Cache-Control and Expires; both reach clients
//     unchanged. Invalid HTTP dates are invalid (an invalid Expires means
//     expired); a list-valued Age uses its first member.
//   - Loops: each Proxy sends Via with a pseudonym of its own and answers
//     a request that already carries it with 508 Loop Detected (loop.go).
//   - Unsafe methods: any method not known to be safe (RFC 9110 §9.2.1)
//     invalidates its URL on a non-error answer (RFC 9111 §4.4), unless
//     DisableUnsafeMethodInvalidation (--invalidate-on-unsafe-methods=false,
//     CacheProxy spec.cache.invalidateOnUnsafeMethods) turns that
//     unauthenticated path off.
package cacheproxy
