package cacheproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Fetching from the origin. Every origin request goes through the one
// httputil.ReverseProxy (hop-by-hop headers, X-Forwarded-*, trailers,
// 1xx, upgrades) with three hooks: rewrite prepares the outgoing request,
// modifyResponse decides what the cache does with the answer before any
// byte reaches the client, and errorHandler is the single place where
// transport failures are mapped (errors.go).
//
// A fetch (fill) writes into a fillWriter that keeps the body in a buffer
// while the response may be stored, and hands it to the clients of its
// flight through a stream (coalesce.go, stream.go). The fetch runs on a
// context detached from its clients: a miss being stored survives them all
// leaving (bounded by FetchTimeout then), so clients that arrive meanwhile
// still get it; a response that is not being stored stops as soon as its
// last client leaves. Background fetches (refresh, refetch) have no
// clients and are bounded by FetchTimeout.

// fillKey carries the *fill of a fetch in its request context.
type fillKey struct{}

// What a fetch does with the origin's answer.
const (
	modeForward     = iota // stream to the client (and maybe store)
	modeRevalidated        // 304 to our conditional request: serve the refreshed stored copy
	modeStaleOnErr         // origin failed: serve the stale copy instead
)

// fill is the state of one fetch.
type fill struct {
	p           *Proxy
	key         string
	fwd         string
	fl          *flight // the clients' flight; nil for background fetches
	reqHeader   http.Header
	stale       *object // stored copy being revalidated or refreshed, or nil
	requestTime int64
	banSeq      uint64
	mark        *fetchMark // this fetch in the in-flight registry (inflight.go)
	cancel      context.CancelFunc
	idle        *time.Timer // while storing: ends a fetch whose body stalls (eofReader)

	// Set by the ReverseProxy hooks, read after rp.ServeHTTP returns.
	conditional bool
	mode        int
	status      int
	cs          cacheStatus
	obj         *object // object being built, nil when not storing
	refreshed   *object // modeRevalidated: the stale copy refreshed by the 304
	originErr   error
	sawEOF      bool
	upstream    string // the origin's own Cache-Status
	buf         []byte
	reserved    int64       // bytes reserved in the store for buf (store.reserve)
	buffering   atomic.Bool // read by the client-gone callback
	shareOnly   bool        // obj is an error answer for the waiters only, never stored
}

// fetchResult is what the leader of a coalesced fetch hands its waiters.
type fetchResult struct {
	share     *object // a complete response the waiters may be served, or nil
	cs        cacheStatus
	errStatus int // 502/504 (or 499) when the origin failed and nothing could be served
	stored    bool
	outcome   int // what it was for the client that started it: iMiss, iRevalidated, iStale, iError
}

// fetchWith runs one fetch: the origin request through the ReverseProxy,
// then storing what it produced.
func (p *Proxy) fetchWith(f *fill, r *http.Request) *fetchResult {
	f.mark, f.banSeq = p.inflight.begin(f.key, p.now, p.bans.headSeq)
	f.requestTime = f.mark.start
	defer p.inflight.end(f.mark)
	ctx, cancel := p.fetchContext(f)
	defer cancel()
	f.cancel = cancel
	in := r.WithContext(context.WithValue(ctx, fillKey{}, f))
	p.rp.ServeHTTP(&fillWriter{f: f, header: make(http.Header)}, in)
	if f.idle != nil {
		f.idle.Stop()
	}
	defer f.release()
	res := f.finish()
	if p.afterFetch != nil {
		p.afterFetch(f.key, f.requestTime)
	}
	return res
}

// fetchContext detaches the fetch from its clients' cancellation. When the
// last client leaves, a fetch that is not being stored stops at once, one
// being stored gets FetchTimeout to finish. Background fetches get
// FetchTimeout.
func (p *Proxy) fetchContext(f *fill) (context.Context, context.CancelFunc) {
	if f.fl == nil {
		return context.WithTimeout(p.bgCtx, p.cfg.FetchTimeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var timer atomic.Pointer[time.Timer]
	f.fl.st.setOnIdle(func() {
		if f.buffering.Load() {
			timer.Store(time.AfterFunc(p.cfg.FetchTimeout, cancel))
		} else {
			cancel()
		}
	})
	return ctx, func() {
		if t := timer.Load(); t != nil {
			t.Stop()
		}
		cancel()
	}
}

// rewrite prepares the outgoing request (ReverseProxy.Rewrite).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	if pr.In.RequestURI != "*" {
		setTarget(pr.Out.URL, targetPathQuery(pr.In)) // the key names what the origin is asked for (key.go)
	}
	pr.SetURL(p.cfg.Origin)
	if !p.cfg.RewriteHost {
		pr.Out.Host = pr.In.Host
	}
	pr.SetXForwarded()
	// RFC 9110 §7.6.3: a gateway sends Via on the requests it forwards.
	pr.Out.Header.Add("Via", viaValue(pr.In)+" "+p.via)
	if f, ok := pr.In.Context().Value(fillKey{}).(*fill); ok {
		f.prepare(pr.Out)
	}
}

// unkeyedOverrides are request fields that frameworks read to change the
// URL, method, host or scheme they answer for, which the cache key does
// not hold: a fill drops them, so no client can make the origin answer
// something else under a key everyone reads (red team C3). Passes (not
// stored) forward them. X-Forwarded-For, -Host and -Proto and Forwarded are
// replaced by the proxy's own (Rewrite).
var unkeyedOverrides = [...]string{
	"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Forwarded-Ssl",
	"X-Url-Scheme", "Front-End-Https", "X-Host", "X-Original-Host",
}

// conditionalFields are the request fields a fetch for the cache drops: the
// cache wants the whole current representation, and answers the client's
// own conditions and ranges itself.
var conditionalFields = [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// prepare turns the outgoing request into a cache fill: always a GET,
// without the client's conditions and unkeyed overrides, with the stale
// copy's validators.
func (f *fill) prepare(out *http.Request) {
	out.Method = http.MethodGet
	for _, name := range conditionalFields {
		delete(out.Header, name)
	}
	for _, name := range unkeyedOverrides {
		delete(out.Header, name)
	}
	if s := f.stale; s != nil && s.hasValidator() {
		f.conditional = true
		if s.etag != "" {
			out.Header.Set("If-None-Match", s.etag)
		}
		if s.lastModified != "" {
			out.Header.Set("If-Modified-Since", s.lastModified)
		}
	}
}

// modifyResponse runs before any byte of the answer reaches the client.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	ctx := resp.Request.Context()
	if f, ok := ctx.Value(fillKey{}).(*fill); ok {
		f.onResponse(resp)
		return nil
	}
	if ps, ok := ctx.Value(passKey{}).(*passState); ok {
		p.onPassResponse(ps, resp)
	}
	return nil
}

// onResponse decides what the fetch does with the origin's answer.
func (f *fill) onResponse(resp *http.Response) {
	p := f.p
	now := p.now()
	f.status = resp.StatusCode
	resp.Body = &eofReader{ReadCloser: resp.Body, f: f}
	if resp.StatusCode < 200 {
		return // 101 and other 1xx are not ours to cache
	}
	tags := takeTags(resp.Header)
	upstream := strings.Join(resp.Header["Cache-Status"], ", ")
	f.upstream = upstream
	delete(resp.Header, "Cache-Status")
	switch {
	case resp.StatusCode == http.StatusNotModified && f.conditional:
		f.mode = modeRevalidated
		f.refreshed = f.stale.refreshed(resp.Header, tags, f.requestTime, now)
		if f.refreshed != nil {
			p.inflight.setTags(f.mark, f.refreshed.tags)
		}
		return
	case resp.StatusCode >= 500 && f.stale != nil && f.stale.staleUsable(now, f.stale.sie, p.cfg.SoftPurgeGrace):
		f.mode = modeStaleOnErr
		return
	}
	p.inflight.setTags(f.mark, tags)
	date := responseDate(resp.Header, time.Unix(0, now))
	pol := decide(f.reqHeader, resp.StatusCode, resp.Header, date)
	if pol.store && resp.ContentLength > p.cfg.MaxObjectSize {
		pol.store, pol.why = false, "too-large"
	}
	// An origin error that may not be stored is still handed to the
	// clients waiting on this fetch, so a failing origin gets one request,
	// not one per waiter. Never a private, cookie-setting or authorised one.
	f.shareOnly = !pol.store && shareableError(f.reqHeader, resp) && resp.ContentLength <= p.cfg.MaxObjectSize
	if (pol.store || f.shareOnly) && !f.reserve(initialReservation(resp.ContentLength)) {
		pol.store, pol.why, f.shareOnly = false, "memory", false
	}
	f.cs = cacheStatus{fwd: f.fwd, fwdStatus: resp.StatusCode, stored: pol.store}
	if !pol.store {
		f.cs.detail = "not-stored-" + pol.why
	}
	if pol.store || f.shareOnly {
		h := resp.Header.Clone()
		delete(h, "Age")
		delete(h, "Content-Length")
		fields := varyFields(h)
		f.obj = &object{
			key:            f.key,
			vary:           fields,
			variant:        variantValues(fields, f.reqHeader),
			status:         resp.StatusCode,
			tags:           tags,
			upstreamStatus: upstream,
			etag:           h.Get("Etag"),
			lastModified:   h.Get("Last-Modified"),
			storedAt:       f.requestTime,
			responseTime:   now,
			initialAge:     initialAge(resp.Header, time.Unix(0, f.requestTime), time.Unix(0, now), date),
			lifetime:       pol.lifetime,
			swr:            pol.swr,
			sie:            pol.sie,
			noCache:        pol.noCache,
			noStale:        pol.noStale,
		}
		if h.Get("Date") == "" {
			h.Set("Date", time.Unix(0, now).UTC().Format(http.TimeFormat))
		}
		f.obj.header = headerList(h)
		f.obj.banSeq.Store(f.banSeq)
		if resp.ContentLength > 0 {
			f.buf = make([]byte, 0, resp.ContentLength)
		}
		f.buffering.Store(true)
		// A body being stored that stalls for OriginTimeout is abandoned:
		// its clients and waiters would wait on it unbounded (red team C6).
		// An answer that is not stored (an event stream, a long poll) may
		// idle; it holds only its own client.
		f.idle = time.AfterFunc(p.cfg.OriginTimeout, f.cancel)
	}
	resp.Header["Cache-Status"] = []string{f.cs.after(upstream)}
}

// finish stores what the fetch produced and answers the client when the
// ReverseProxy did not (revalidation, stale on error, origin failure).
func (f *fill) finish() *fetchResult {
	f.release() // an object stored is charged its own size
	switch {
	case f.originErr != nil || f.mode == modeStaleOnErr:
		return f.finishFailed()
	case f.mode == modeRevalidated:
		return f.finishRevalidated()
	default:
		return f.finishForwarded()
	}
}

// finishFailed answers an origin that could not be reached or sent a 5xx:
// with the stale copy while stale-if-error (or a soft purge) allows it,
// otherwise with 502 or 504 (errors.go).
func (f *fill) finishFailed() *fetchResult {
	p := f.p
	now := p.now()
	if s := f.stale; s != nil && s.staleUsable(now, s.sie, p.cfg.SoftPurgeGrace) {
		return &fetchResult{share: s, outcome: iStale, cs: cacheStatus{fwd: fwdStale, fwdStatus: f.status, detail: "stale-if-error"}}
	}
	// Without an error the origin answered 5xx: a stale copy was expected
	// to stand in for it, but its window closed while the answer came in.
	status, detail := f.status, ""
	if f.originErr != nil {
		status, detail = originFailure(f.originErr)
	}
	if status != statusClientClosed {
		p.log.Warn("Origin request failed", "key", f.key, "status", status, "error", f.originErr)
	}
	return &fetchResult{errStatus: status, outcome: iError, cs: cacheStatus{fwd: f.fwd, detail: detail}}
}

// finishRevalidated stores the copy a 304 refreshed, for its clients.
func (f *fill) finishRevalidated() *fetchResult {
	p := f.p
	res := &fetchResult{outcome: iRevalidated, cs: cacheStatus{fwd: fwdStale, fwdStatus: http.StatusNotModified}}
	o := f.refreshed
	if o == nil { // the 304 made the response unstorable: serve it once, drop it
		p.store.remove(f.stale)
		o = f.stale
	} else if f.insert(o) {
		res.stored = true
	}
	res.share = o
	return res
}

// finishForwarded ends a fetch the ReverseProxy streamed to the client: a
// complete storable body is stored, a shareable error is handed to the
// waiters only, and a stale copy the origin replaced by something this
// cache could not store is dropped.
func (f *fill) finishForwarded() *fetchResult {
	p := f.p
	res := &fetchResult{cs: f.cs, outcome: iMiss}
	o := f.bufferedObject()
	switch {
	case o != nil && f.shareOnly:
		res.share = o
	case o != nil:
		// The cache charges len(body): give back spare buffer capacity
		// worth more than an eighth of it, so the charge matches the heap.
		if cap(o.body)-len(o.body) > len(o.body)/8 {
			o.body = slices.Clip(slices.Clone(o.body))
		}
		o.computeSize()
		if f.insert(o) {
			res.stored, res.share = true, o
		}
	case f.stale != nil && f.status >= 200 && f.status < 500:
		p.store.remove(f.stale)
	}
	return res
}

// bufferedObject returns the object being built, holding the body it
// buffered, or nil when there is none: the answer was neither storable nor
// shareable, outgrew MaxObjectSize, or did not arrive whole.
func (f *fill) bufferedObject() *object {
	o := f.obj
	if o == nil || !f.buffering.Load() || !f.sawEOF {
		return nil
	}
	o.body = f.buf
	o.header = setField(o.header, "Content-Length", contentLength(len(o.body)))
	return o
}

// initialReservation is what a fetch reserves when it starts buffering a
// body: its Content-Length, or 64 KiB when unknown (Write reserves more,
// doubling, as the body grows).
func initialReservation(contentLength int64) int64 {
	if contentLength >= 0 {
		return contentLength
	}
	return 64 << 10
}

// reserve charges n more bytes for the body being buffered.
func (f *fill) reserve(n int64) bool {
	if !f.p.store.reserve(n) {
		return false
	}
	f.reserved += n
	return true
}

// release gives back what the fetch reserved.
func (f *fill) release() {
	f.p.store.release(f.reserved)
	f.reserved = 0
}

// setField replaces or adds a stored header field, keeping the list sorted.
func setField(fields []headerField, name string, values []string) []headerField {
	i, found := slices.BinarySearchFunc(fields, name, func(f headerField, n string) int { return strings.Compare(f.name, n) })
	if found {
		fields[i].values = values
		return fields
	}
	return slices.Clip(slices.Insert(fields, i, headerField{name: name, values: values}))
}

// insert stores o unless an invalidation that reached the fetch while it
// was in flight forbids it (inflight.go; a soft purge stores it already
// soft-purged) or a ban registered since applies to it.
func (f *fill) insert(o *object) bool {
	return f.p.store.insert(o, func(o *object) bool {
		return f.mark.admit(o) && !f.p.bans.banned(o)
	})
}

// errorHandler handles transport failures (ReverseProxy.ErrorHandler).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if f, ok := r.Context().Value(fillKey{}).(*fill); ok {
		f.originErr = err // finish decides between a stale copy and an error
		return
	}
	status, detail := originFailure(err)
	if status == statusClientClosed {
		// Nothing was written yet: abort the connection rather than let
		// net/http send its implicit empty 200 (red team F4).
		panic(http.ErrAbortHandler)
	}
	cs := cacheStatus{fwd: fwdBypass, detail: detail}
	if ps, ok := r.Context().Value(passKey{}).(*passState); ok {
		cs.fwd = ps.fwd
	}
	p.log.Warn("Origin request failed", "url", r.URL.String(), "status", status, "error", err)
	p.metrics.count(iError)
	writeOriginError(w, status, cs)
}

// onPassResponse strips tags, adds Cache-Status and, after a successful
// unsafe request, invalidates what it changed (RFC 9111 §4.4).
func (p *Proxy) onPassResponse(ps *passState, resp *http.Response) {
	if resp.StatusCode < 200 {
		return
	}
	takeTags(resp.Header)
	upstream := strings.Join(resp.Header["Cache-Status"], ", ")
	resp.Header["Cache-Status"] = []string{cacheStatus{fwd: ps.fwd, fwdStatus: resp.StatusCode, detail: ps.detail}.after(upstream)}
	if !ps.invalidate || resp.StatusCode >= 400 {
		return
	}
	keys := []string{ps.key}
	for _, name := range [...]string{"Location", "Content-Location"} {
		if key, ok := sameHostKey(ps.reqURL, ps.reqHost, resp.Header.Get(name)); ok {
			keys = append(keys, key)
		}
	}
	// Like a purge: fetches that started before this answer must not store
	// what it changed.
	p.inflight.purgeKeys(keys, p.now(), false)
	for _, key := range keys {
		p.removeKey(key)
	}
}

// removeKey removes every variant of key.
func (p *Proxy) removeKey(key string) {
	for _, o := range p.store.variants(key) {
		p.store.remove(o)
	}
}

// sameHostKey resolves a Location-like reference against the request URL
// and returns its key when it names the same host.
func sameHostKey(base *url.URL, host, ref string) (string, bool) {
	if ref == "" || base == nil {
		return "", false
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	b := *base
	b.Host = host
	if b.Scheme == "" {
		b.Scheme = schemeHTTP
	}
	u = b.ResolveReference(u)
	if cachekey.Host(u.Host) != cachekey.Host(host) {
		return "", false
	}
	return cachekey.Host(host) + cachekey.PathQuery(u.RequestURI()), true
}

// fillWriter is the ResponseWriter the ReverseProxy writes a fetch into.
type fillWriter struct {
	f      *fill
	header http.Header
	wrote  bool
}

var errNobodyListens = errors.New("response not needed: not stored and no client")

func (fw *fillWriter) Header() http.Header { return fw.header }

// WriteHeader starts the clients' stream with the origin's answer, for an
// answer streamed to them (not a 304 or an error a stale copy stands in
// for). 1xx answers are not relayed: they would reach one client only.
func (fw *fillWriter) WriteHeader(code int) {
	f := fw.f
	if code < 200 || fw.wrote {
		return
	}
	fw.wrote = true
	if f.mode != modeForward || f.fl == nil {
		return
	}
	waiter := f.cs
	waiter.collapsed = true
	header := fw.header.Clone()
	delete(header, "Cache-Status")
	f.fl.obj = f.obj
	f.fl.st.start(code, header, f.cs.after(f.upstream), waiter.after(f.upstream), f.obj != nil)
	f.fl.decide()
}

// Write buffers the body while it may be stored, and streams it to the
// flight's clients.
func (fw *fillWriter) Write(b []byte) (int, error) {
	if !fw.wrote {
		fw.WriteHeader(http.StatusOK)
	}
	f := fw.f
	if f.mode != modeForward {
		return len(b), nil // a 304 or an error body: served from elsewhere
	}
	if f.buffering.Load() {
		need := int64(len(f.buf) + len(b))
		if need <= f.p.cfg.MaxObjectSize && (need <= f.reserved || f.reserve(max(need, 2*f.reserved)-f.reserved)) {
			f.buf = append(f.buf, b...)
			if f.fl != nil {
				f.fl.st.publish(f.buf)
			}
			return len(b), nil
		}
		// Too large, or no room: stream on without storing.
		f.buffering.Store(false)
		f.buf = nil
		f.release()
	}
	if f.fl == nil || !f.fl.st.push(b) {
		return 0, errNobodyListens
	}
	return len(b), nil
}

// Flush is a no-op: what Write hands the stream is readable at once, and
// each client's writer flushes after every write.
func (fw *fillWriter) Flush() {}

// eofReader records that the origin's body was read to its end, which is
// the only proof a response is complete enough to store.
type eofReader struct {
	io.ReadCloser
	f *fill
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.ReadCloser.Read(b)
	if t := e.f.idle; t != nil {
		if err != nil {
			t.Stop()
		} else if n > 0 {
			t.Reset(e.f.p.cfg.OriginTimeout)
		}
	}
	if err == io.EOF {
		e.f.sawEOF = true
	}
	return n, err
}

// viaValue is the protocol part of this hop's Via member: "1.1".
func viaValue(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return "1.1"
}

// shareableError reports whether an unstorable origin answer may still be
// given to the clients that waited for the same fetch: a server error, not
// marked private, setting no cookie, to a request without Authorization.
func shareableError(req http.Header, resp *http.Response) bool {
	if resp.StatusCode < 500 || len(resp.Header["Set-Cookie"]) > 0 || req.Get("Authorization") != "" {
		return false
	}
	cc, _ := responseCacheControl(resp.Header)
	return !cc.private && !cc.noStore
}
