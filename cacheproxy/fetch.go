package cacheproxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Fetching for the cache. A fill asks the origin for an object with one
// round trip through the fill transport (the origin client of
// originclient.go for an http:// origin, Config.Transport or an
// http.Transport otherwise), forwarding the client's request as
// httputil.ReverseProxy forwards it (hop-by-hop fields dropped,
// X-Forwarded-*, Via; rewrite is shared with passes), made a plain GET for
// the cache (fill.go, prepare). The answer's head goes to onResponse,
// which decides what the cache does with it before any byte reaches a
// client; its body goes through the fill writer (fillwriter.go) into the
// buffer being stored and the stream the flight's clients read (coalesce.go,
// stream.go). Passes (pass.go) keep httputil.ReverseProxy: bodies,
// upgrades, 1xx relaying and trailers are theirs.
//
// A fetch runs on a context detached from its clients: a miss being
// stored survives them all leaving (bounded by FetchTimeout then), so
// clients that arrive meanwhile still get it; a response that is not being
// stored stops as soon as its last client leaves. Background fetches
// (refresh, refetch) have no clients and are bounded by FetchTimeout.

// fetchWith runs one fetch: the origin request, then storing what it
// produced.
func (p *Proxy) fetchWith(f *fill, r *http.Request) *fetchResult {
	f.mark, f.banSeq = p.inflight.begin(f.key, p.now, p.bans.headSeq)
	f.requestTime = f.mark.start
	defer p.inflight.end(f.mark)
	ctx, cancel := p.fetchContext(f)
	defer cancel()
	f.cancel = cancel
	p.roundTrip(ctx, f, r)
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

// roundTrip sends the fill's request and streams the answer into the fill;
// a transport failure is left in f.originErr for finish.
func (p *Proxy) roundTrip(ctx context.Context, f *fill, in *http.Request) {
	resp, err := p.sendFill(ctx, f, in)
	if err != nil {
		f.originErr = err
		return
	}
	defer resp.Body.Close()
	removeHopByHopFields(resp.Header)
	f.onResponse(resp)
	if resp.StatusCode < 200 {
		// Only a transport that relays 1xx gets here (the origin client
		// skips them): not ours to cache, nor to stream.
		return
	}
	// As ReverseProxy announces them (the stream passes on no trailer).
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for name := range resp.Trailer {
			names = append(names, name)
		}
		resp.Header.Add(fieldTrailer, strings.Join(names, ", "))
	}
	f.startStream(resp.StatusCode, resp.Header, resp.ContentLength)
	f.copyBody(resp.Body)
}

// sendFill sends the fill's request for in: with the origin client, its
// head written straight from in (fillhead.go); otherwise the request
// fillRequest builds, through the fill transport.
func (p *Proxy) sendFill(ctx context.Context, f *fill, in *http.Request) (*http.Response, error) {
	if c := p.fillClient; c != nil {
		var ok bool
		if f.targetPath, f.targetQuery, ok = fillTarget(in); ok {
			f.in = in
			start := p.fillTransport.begin()
			resp, err := c.send(ctx, f)
			p.fillTransport.end(start, resp, err)
			return resp, err
		}
	}
	return p.fillTransport.RoundTrip(p.fillRequest(ctx, f, in))
}

// fillRequest is the request a fill sends: the client's, forwarded as
// httputil.ReverseProxy forwards a request through rewrite, then made a
// cache fill (prepare). in is the fill's own copy of the client's request;
// its header is left as the client sent it (Vary and the storage decision
// read it).
func (p *Proxy) fillRequest(ctx context.Context, f *fill, in *http.Request) *http.Request {
	out := in.WithContext(ctx)
	u := *in.URL
	out.URL = &u
	out.Header = in.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Body, out.ContentLength, out.Close = nil, 0, false
	removeHopByHopFields(out.Header)
	if httpguts.HeaderValuesContainsToken(in.Header["Te"], "trailers") {
		out.Header.Set("Te", "trailers")
	}
	for _, name := range [...]string{"Forwarded", fieldXForwardedFor, "X-Forwarded-Host", fieldXForwardedProto} {
		delete(out.Header, name)
	}
	p.rewrite(&httputil.ProxyRequest{In: in, Out: out})
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // no Go default User-Agent
	}
	f.prepare(out)
	return out
}

// hopByHopFields are dropped from what is forwarded either way, with the
// fields a Connection field names (RFC 9110 §7.6.1), as ReverseProxy does.
var hopByHopFields = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", fieldTrailer, fieldTransferEncoding, "Upgrade",
}

// Field names the fill path writes or reads in several places.
const (
	fieldTrailer         = "Trailer"
	fieldXForwardedFor   = "X-Forwarded-For"
	fieldXForwardedProto = "X-Forwarded-Proto"
)

// removeHopByHopFields drops the hop-by-hop fields of h.
func removeHopByHopFields(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHopFields {
		delete(h, name)
	}
}

// fetchContext detaches the fetch from its clients' cancellation. When the
// last client leaves, a fetch that is not being stored stops at once, one
// being stored gets FetchTimeout to finish. Background fetches get
// FetchTimeout.
func (p *Proxy) fetchContext(f *fill) (context.Context, context.CancelFunc) {
	if f.fl == nil {
		return context.WithTimeout(p.bgCtx, p.cfg.FetchTimeout)
	}
	var ctx context.Context
	if p.fillClient != nil {
		ctx, f.stop = &f.ctx, f.ctx.cancel // fetchctx.go
	} else {
		ctx, f.stop = context.WithCancel(context.Background())
	}
	f.fl.st.setOnIdle(f.clientsGone)
	return ctx, f.endFetch
}

// clientsGone runs when the last client leaves the fetch's stream: a fetch
// not being stored stops; one being stored gets FetchTimeout, started
// once. After the fetch ended it starts nothing: clients leave a finished
// stream too, and a timer started then would keep the context for
// FetchTimeout after every fill.
func (f *fill) clientsGone() {
	if !f.buffering.Load() {
		f.stop()
		return
	}
	f.ctxMu.Lock()
	defer f.ctxMu.Unlock()
	if !f.ended && f.gone == nil {
		f.gone = time.AfterFunc(f.p.cfg.FetchTimeout, f.stop)
	}
}

// endFetch cancels the fetch's context and the timer clientsGone started.
func (f *fill) endFetch() {
	f.ctxMu.Lock()
	f.ended = true
	if f.gone != nil {
		f.gone.Stop()
	}
	f.ctxMu.Unlock()
	f.stop()
}

// rewrite points a forwarded request at the origin (ReverseProxy.Rewrite
// for passes; fillRequest for fills).
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
