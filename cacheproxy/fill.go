package cacheproxy

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A fill is one fetch for the cache: the request it sends (prepare), what
// it decides when the answer's head arrives (onResponse: store it, share
// it, refresh the stale copy with a 304, or stand the stale copy in for an
// error), and what it stores and hands its clients once the answer ended
// (finish). The body's way into the buffer and the clients' stream is in
// fillwriter.go; the exchange with the origin in fetch.go.

// fillMode is what a fetch does with the origin's answer.
type fillMode int

const (
	modeForward     fillMode = iota // stream to the clients (and maybe store)
	modeRevalidated                 // 304 to our conditional request: serve the refreshed stored copy
	modeStaleOnErr                  // origin failed: serve the stale copy instead
)

func (m fillMode) String() string {
	switch m {
	case modeForward:
		return "forward"
	case modeRevalidated:
		return "revalidated"
	case modeStaleOnErr:
		return "stale-on-error"
	}
	return unknownName
}

// fill is the state of one fetch.
type fill struct {
	p         *Proxy
	key       string
	fwd       fwdReason
	fl        *flight // the clients' flight; nil for background fetches
	reqHeader http.Header
	// The client's request and the target a fill written by appendHead
	// sends (fillhead.go); in is read, never written.
	in                      *http.Request
	targetPath, targetQuery string
	stale                   *object // stored copy being revalidated or refreshed, or nil
	requestTime             int64
	banSeq                  uint64
	mark                    *fetchMark         // this fetch in the in-flight registry (inflight.go)
	cancel                  context.CancelFunc // ends the fetch (fetchContext)
	// A client's fetch: stop cancels its context; gone is the timer the
	// last client leaving starts (clientsGone), ended set once the fetch
	// ended (endFetch). ctxMu guards gone and ended.
	stop  context.CancelFunc
	ctx   fetchCtx // the context of a client's fetch through the origin client
	ctxMu sync.Mutex
	gone  *time.Timer
	ended bool
	idle  *time.Timer // while storing: ends a fetch whose body stalls (eofReader)

	// Set while the answer arrives (onResponse, the fill writer), read by
	// finish once it ended.
	conditional  bool
	mode         fillMode
	status       int
	cs           cacheStatus
	obj          *object // object being built, nil when not storing
	refreshed    *object // modeRevalidated: the stale copy refreshed by the 304
	originErr    error
	sawEOF       bool
	upstream     string // the origin's own Cache-Status
	buf          []byte
	reserved     int64       // bytes reserved in the store for buf (store.reserve)
	buffering    atomic.Bool // read by the client-gone callback
	shareOnly    bool        // obj is an error answer for the waiters only, never stored
	storing      bool        // obj is to be stored once its body is whole
	notStoredWhy string      // why a forwarded answer is not being stored, if it is not
}

// fetchResult is what the leader of a coalesced fetch hands its waiters.
type fetchResult struct {
	share     *object // a complete response the waiters may be served, or nil
	cs        cacheStatus
	errStatus int // 502/504 (or 499) when the origin failed and nothing could be served
	stored    bool
	outcome   outcome // what it was for the client that started it: miss, revalidated, stale, error
	// notStoredWhy says why a forwarded answer was not stored, when its
	// header said it would not be ("" when it was, or its body fell short).
	notStoredWhy string
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
		// Copies: the values are in the stale copy's data (objectdata.go),
		// and the request may outlive it.
		if etag := s.etag(); etag != "" {
			out.Header.Set("If-None-Match", strings.Clone(etag))
		}
		if lm := s.lastModified(); lm != "" {
			out.Header.Set("If-Modified-Since", strings.Clone(lm))
		}
	}
}

// onResponse decides what the fetch does with the origin's answer.
func (f *fill) onResponse(resp *http.Response) {
	p := f.p
	now := p.now()
	f.status = resp.StatusCode
	inMemory := bodyInMemory(resp.Body)
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
			p.inflight.setTags(f.mark, f.refreshed.tagSlice())
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
	// Not "stored" yet: the body has still to arrive whole and be admitted
	// (red team K1); finishForwarded says so once it is.
	f.cs = cacheStatus{fwd: f.fwd, fwdStatus: resp.StatusCode}
	f.storing = pol.store
	if !pol.store {
		f.cs.detail, f.notStoredWhy = notStoredDetail(pol.why), pol.why
	}
	if pol.store || f.shareOnly {
		// The object shares the answer's fields with the clients' stream
		// (newObject only reads them); one without Date gets its own copy
		// with the time it arrived.
		h := resp.Header
		if h.Get("Date") == "" {
			h = h.Clone()
			h.Set("Date", time.Unix(0, now).UTC().Format(http.TimeFormat))
		}
		fields := varyFields(h)
		f.obj = newObject(storedResponse{
			key: f.key, vary: fields, variant: variantValues(fields, f.reqHeader),
			status: resp.StatusCode, header: h, tags: tags, upstreamStatus: upstream,
			requestTime: f.requestTime, responseTime: now,
			initialAge: initialAge(resp.Header, time.Unix(0, f.requestTime), time.Unix(0, now), date),
			banSeq:     f.banSeq,
		}, pol)
		if resp.ContentLength > 0 {
			f.buf = make([]byte, 0, resp.ContentLength)
		}
		f.buffering.Store(true)
		// A body being stored that stalls for OriginTimeout is abandoned:
		// its clients and waiters would wait on it unbounded (red team C6).
		// An answer that is not stored (an event stream, a long poll) may
		// idle; it holds only its own client. One read with the head
		// whole cannot stall: no timer for it.
		if !inMemory {
			f.idle = time.AfterFunc(p.cfg.OriginTimeout, f.cancel)
		}
	}
}

// finish stores what the fetch produced and says what its clients get
// when it was not streamed to them (revalidation, stale on error, origin
// failure).
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
		return &fetchResult{share: s, outcome: outcomeStale, cs: cacheStatus{fwd: fwdStale, fwdStatus: f.status, detail: detailStaleIfError}}
	}
	// Without an error the origin answered 5xx: a stale copy was expected
	// to stand in for it, but its window closed while the answer came in.
	status, detail := f.status, detailNone
	if f.originErr != nil {
		status, detail = originFailure(f.originErr)
	}
	if status != statusClientClosed {
		p.log.Warn("Origin request failed", "key", f.key, "status", status, "error", f.originErr)
	}
	return &fetchResult{errStatus: status, outcome: outcomeError, cs: cacheStatus{fwd: f.fwd, detail: detail}}
}

// finishRevalidated stores the copy a 304 refreshed, for its clients.
func (f *fill) finishRevalidated() *fetchResult {
	p := f.p
	res := &fetchResult{outcome: outcomeRevalidated, cs: cacheStatus{fwd: fwdStale, fwdStatus: http.StatusNotModified}}
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

// finishForwarded ends a fetch streamed to its clients: a
// complete storable body is stored, a shareable error is handed to the
// waiters only, and a stale copy the origin replaced by something this
// cache could not store is dropped.
func (f *fill) finishForwarded() *fetchResult {
	p := f.p
	res := &fetchResult{cs: f.cs, outcome: outcomeMiss, notStoredWhy: f.notStoredWhy}
	o := f.bufferedObject()
	switch {
	case o != nil && f.shareOnly:
		res.share = o
	case o != nil:
		// The cache charges len(body): give back spare buffer capacity
		// worth more than an eighth of it, so the charge matches the heap.
		if len(o.body) > maxPackedBody && cap(o.body)-len(o.body) > len(o.body)/8 { // seal copies smaller ones
			o.body = slices.Clip(slices.Clone(o.body))
		}
		o.seal()
		if f.insert(o) {
			res.stored, res.share = true, o
			res.cs.stored = true
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
	o.parts.header = setField(o.parts.header, fieldContentLength, contentLength(len(o.body)))
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
