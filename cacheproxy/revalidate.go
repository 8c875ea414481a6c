package cacheproxy

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// Revalidation (RFC 9111 §4.3). A stale object with an ETag or a
// Last-Modified date is revalidated with If-None-Match / If-Modified-Since
// (fill.prepare). A 304 answer refreshes it: the stored header is updated
// with the 304's fields (§3.2) and a new object, sharing the body, replaces
// the old one. Its storage time becomes the revalidation's request time,
// since the origin vouched for the content then: an invalidation whose time
// T is earlier does not touch it.
//
// Clients' own conditional requests are answered from the cache
// (notModified), so a browser revalidating a hit costs the origin nothing.

// refreshable reports whether a 304's field may replace the stored one
// (RFC 9111 §3.2): not the fields describing the stored body's bytes, nor
// Age and Cache-Status, which this cache computes.
func refreshable(name string) bool {
	switch name {
	case "Content-Length", "Age", "Cache-Status", "Content-Encoding", "Content-Range":
		return false
	}
	return true
}

// refreshed returns the object o becomes after a 304 carrying header h, or
// nil when the updated header forbids storing it.
func (o *object) refreshed(h http.Header, tags []string, requestTime, now int64) *object {
	merged := o.headerMap()
	for name, values := range h {
		if refreshable(name) {
			merged[name] = values
		}
	}
	date := responseDate(h, time.Unix(0, now))
	if h.Get("Date") == "" {
		merged.Set("Date", time.Unix(0, now).UTC().Format(http.TimeFormat))
	}
	// The request that fetched o selected the variant; its Vary fields are
	// what decide needs of it (Authorization never varies a stored object).
	pol := decide(http.Header{}, int(o.status), merged, date)
	if !pol.store {
		return nil
	}
	if tags == nil {
		tags = o.tagSlice()
	}
	n := newObject(storedResponse{
		key: o.key, vary: o.vary(), variant: o.variant(),
		status: int(o.status), header: merged, body: o.body, tags: tags, upstreamStatus: o.upstreamStatus(),
		requestTime: requestTime, responseTime: now,
		initialAge: initialAge(h, time.Unix(0, requestTime), time.Unix(0, now), date),
		banSeq:     o.banSeq.Load(),
	}, pol)
	n.parts.header = setField(n.parts.header, "Content-Length", contentLength(len(o.body)))
	n.seal()
	runtime.KeepAlive(o) // n's body was o's, in o's data, until seal copied it
	return n
}

// notModified evaluates a client's If-None-Match, or failing that
// If-Modified-Since, against a stored 200 (RFC 9110 §13.2.2).
func notModified(req http.Header, o *object) bool {
	if inm := req["If-None-Match"]; inm != nil {
		if o.etag() == "" {
			return false
		}
		for _, line := range inm {
			for tag := range strings.SplitSeq(line, ",") {
				tag = strings.TrimSpace(tag)
				if tag == "*" || weakEqual(tag, o.etag()) {
					return true
				}
			}
		}
		return false
	}
	if ims := req["If-Modified-Since"]; ims != nil && o.lastModified() != "" {
		since, ok := parseHTTPDate(ims[0])
		if !ok {
			return false
		}
		lm, ok := parseHTTPDate(o.lastModified())
		return ok && !lm.After(since)
	}
	return false
}

// weakEqual compares entity tags with the weak comparison function.
func weakEqual(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// refreshInBackground starts one background request refreshing a stale
// object (stale-while-revalidate, soft purge), unless one already runs for
// it or RefreshConcurrency are running. It replays the triggering request's fields, so the same variant is
// fetched, and revalidates conditionally when the object has validators.
func (p *Proxy) refreshInBackground(r *http.Request, key string, stale *object) {
	id := key + "\x00" + stale.variant()
	p.refreshMu.Lock()
	if _, running := p.refreshing[id]; running {
		p.refreshMu.Unlock()
		return
	}
	p.refreshing[id] = struct{}{}
	p.refreshMu.Unlock()
	select {
	case p.refreshSem <- struct{}{}:
	default: // RefreshConcurrency reached: served stale, refreshed by a later request (red team C15)
		p.endRefresh(id)
		return
	}
	bg := r.Clone(context.Background())
	bg.Method, bg.Body, bg.ContentLength = http.MethodGet, http.NoBody, 0
	started := p.goBackground(func() {
		defer p.endRefresh(id)
		defer func() { <-p.refreshSem }()
		p.fetchWith(&fill{p: p, key: key, fwd: fwdStale, reqHeader: bg.Header, stale: stale}, bg)
	})
	if !started {
		<-p.refreshSem
		p.endRefresh(id)
	}
}

func (p *Proxy) endRefresh(id string) {
	p.refreshMu.Lock()
	delete(p.refreshing, id)
	p.refreshMu.Unlock()
	if p.afterRefresh != nil {
		key, _, _ := strings.Cut(id, "\x00")
		p.afterRefresh(key)
	}
}
