package cacheproxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Passes: requests the cache neither answers nor stores (other methods,
// upgrades, GETs with a body, ranges on a miss) go to the origin through
// httputil.ReverseProxy, streaming both ways, with the Cache-Status of
// what the cache did. An unsafe method's successful answer invalidates
// what it changed (RFC 9111 §4.4).

// pass forwards a request the cache does not handle, streaming both ways.
// With invalidate, a non-error answer invalidates the target URL and the
// same-host Location and Content-Location (RFC 9111 §4.4).
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request, key string, fwd fwdReason, detail cacheDetail, invalidate bool) {
	p.metrics.count(outcomePass)
	ps := &passState{key: key, fwd: fwd, detail: detail, invalidate: invalidate, reqURL: r.URL, reqHost: r.Host}
	if r.ContentLength != 0 && !p.bufferBody(w, r, ps) {
		return // the body failed before the origin was contacted (reqbody.go)
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), passKey{}, ps)))
}

// passState is what pass tells the ReverseProxy hooks about one request.
type passState struct {
	key        string
	fwd        fwdReason
	detail     cacheDetail
	invalidate bool
	reqURL     *url.URL
	reqHost    string
	body       *pacedBody // a request body streamed past its buffered start, or nil
}

type passKey struct{}

// modifyResponse runs before any byte of a pass's answer reaches the
// client (ReverseProxy.ModifyResponse).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if ps, ok := resp.Request.Context().Value(passKey{}).(*passState); ok {
		p.onPassResponse(ps, resp)
	}
	return nil
}

// errorHandler answers a pass whose origin request failed
// (ReverseProxy.ErrorHandler).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ps, _ := r.Context().Value(passKey{}).(*passState)
	if ps != nil && ps.body != nil && ps.body.timedOut.Load() {
		// The client's body fell below the minimum rate while streaming:
		// its failure, not the origin's (reqbody.go).
		p.bodyTimedOut(w, ps)
		return
	}
	status, detail := originFailure(err)
	if status == statusClientClosed {
		// Nothing was written yet: abort the connection rather than let
		// net/http send its implicit empty 200 (red team F4).
		panic(http.ErrAbortHandler)
	}
	cs := cacheStatus{fwd: fwdBypass, detail: detail}
	if ps != nil {
		cs.fwd = ps.fwd
	}
	p.log.Warn("Origin request failed", "url", r.URL.String(), "status", status, "error", err)
	p.metrics.count(outcomeError)
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
