package cacheproxy

import (
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"time"
)

// The fast connection's way to the full handler. A request the fast
// reader accepted (a plain GET or HEAD without a body, h1request.go) that
// the cache cannot answer at once (a miss, a stale copy, a host not
// served) is served by the http.Server's Handler on the connection itself,
// which stays on the fast loop afterwards: the request is built as
// net/http's reader builds it, the answer written by h1response as
// net/http writes it, and while the handler runs one read waits on the
// connection, as net/http's background read does, so a client that leaves
// cancels the request's context (a miss it waited for stops being
// streamed to it, a coalesced fetch loses a client). What that read gets
// is the client's next request. Everything the fast reader does not
// accept still goes to net/http with the connection (h1server.go).

// serveHandler answers the request whose head is the n bytes at c.start
// through the Server's handler. False when the connection is done (and
// closed).
func (c *h1conn) serveHandler(n int) bool {
	if !c.flush() { // the hits answered before this request go first
		c.nc.Close()
		return false
	}
	ctx, cancel := context.WithCancel(c.connContext())
	r, ok := c.newRequest(ctx, n)
	if !ok {
		cancel()
		c.handOff()
		return false
	}
	c.start += n
	if d := c.s.srv.WriteTimeout; d > 0 { // as net/http bounds each answer
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
		c.writeDeadline = true
	}
	c.startBackgroundRead(cancel)
	w := &c.resp
	w.reset(c, r)
	if !c.runHandler(w, r) {
		cancel()
		w.abandon()
		c.flush()
		c.nc.Close()
		c.waitBackgroundRead()
		return false
	}
	cancel()
	w.finish()
	if c.writeDeadline {
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.writeDeadline = false
	}
	if !w.reusable() {
		c.nc.Close()
		c.waitBackgroundRead()
		return false
	}
	return c.endBackgroundRead()
}

// runHandler calls the handler; false when it panicked (http.ErrAbortHandler
// or another panic, logged as net/http logs it): the answer is cut short and
// the connection must close.
func (c *h1conn) runHandler(w *h1response, r *http.Request) (ok bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler { //nolint:errorlint // net/http compares the panic value so too
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf)
			}
			ok = false
		}
	}()
	c.s.srv.Handler.ServeHTTP(w, r)
	return true
}

// connContext is the context of the connection's requests, as net/http
// builds it: the Server's base context, the local address, ConnContext.
func (c *h1conn) connContext() context.Context {
	if c.ctx == nil {
		ctx := context.WithValue(c.s.baseCtx, http.LocalAddrContextKey, c.nc.LocalAddr())
		if cc := c.s.srv.ConnContext; cc != nil {
			ctx = cc(ctx, c.nc)
		}
		c.ctx = ctx
		if ra := c.nc.RemoteAddr(); ra != nil {
			c.remoteAddr = ra.String()
		}
	}
	return c.ctx
}

// newRequest builds the http.Request net/http's reader builds from the
// head in c.req, n bytes at c.start (FuzzParseH1Request compares them),
// with context ctx: the target parsed with url.ParseRequestURI, fields
// canonicalised, Host moved out of the header, Pragma: no-cache read as
// Cache-Control: no-cache, no body. False if the target does not parse
// (net/http then answers it).
func (c *h1conn) newRequest(ctx context.Context, n int) (*http.Request, bool) {
	req := &c.req
	// One string holds the head; target, Host and values point into it.
	base := c.buf[c.start:]
	head := string(base[:n])
	str := func(b []byte) string {
		at := cap(base) - cap(b) // b is a slice of base
		return head[at : at+len(b)]
	}
	target := str(req.target)
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	method := http.MethodGet
	if req.head {
		method = http.MethodHead
	}
	h := make(http.Header, req.nfields)
	strs := make([]string, req.nfields)
	for i, f := range req.fields[:req.nfields] {
		v := str(f.value)
		key := canonicalFieldName(f.name)
		if vv := h[key]; vv != nil {
			h[key] = append(vv, v)
			continue
		}
		strs[i] = v
		h[key] = strs[i : i+1 : i+1]
	}
	if pv, ok := h["Pragma"]; ok && len(pv) > 0 && pv[0] == pragmaNoCache {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{pragmaNoCache}
		}
	}
	// WithContext copies the request into the one allocation it returns;
	// this one stays on the stack.
	r := http.Request{
		Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody, Host: str(req.host), RequestURI: target,
		RemoteAddr: c.remoteAddr, Close: req.close,
	}
	return r.WithContext(ctx), true
}

// pragmaNoCache is the Pragma net/http reads as Cache-Control: no-cache.
const pragmaNoCache = "no-cache"

// commonFieldNames are request field names in canonical form, matched
// without allocating.
var commonFieldNames = [...]string{
	"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Connection", "Cookie",
	"Pragma", "Referer", "User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Proto",
	"X-Request-Id", "Authorization", "Origin", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest",
	"Upgrade-Insecure-Requests", "Dnt", "Te", "Priority",
}

// canonicalFieldName is textproto.CanonicalMIMEHeaderKey of a token name.
func canonicalFieldName(name []byte) string {
	for _, k := range commonFieldNames {
		if equalFold(name, k) {
			return k
		}
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

// startBackgroundRead starts the read that waits on the connection while
// the handler runs: an error (the client closed, or reset) cancels the
// request, as net/http's background read does; bytes are the next request,
// kept for the loop. No read deadline applies meanwhile (net/http clears
// it too). Without room in the buffer (a full buffer of pipelined
// requests) no read starts.
func (c *h1conn) startBackgroundRead(cancel context.CancelFunc) {
	if c.start == c.end {
		c.start, c.end = 0, 0
	} else if c.end == len(c.buf) && c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	if c.end == len(c.buf) {
		return
	}
	if c.bgDone == nil {
		c.bgDone = make(chan struct{}, 1)
	}
	c.setReadDeadline(time.Time{})
	c.bgReading = true
	buf := c.buf[c.end:]
	go func() {
		n, err := c.nc.Read(buf)
		if err != nil && n == 0 {
			cancel()
		}
		c.bgN, c.bgErr, c.bgAt = n, err, time.Now()
		c.bgDone <- struct{}{}
	}()
}

// waitBackgroundRead waits for the background read to return, and keeps
// what it read.
func (c *h1conn) waitBackgroundRead() {
	if !c.bgReading {
		return
	}
	<-c.bgDone
	c.bgReading = false
	if c.bgN > 0 {
		if c.start == c.end {
			c.headStart = c.bgAt
		}
		c.end += c.bgN
	}
}

// endBackgroundRead returns the connection to the loop after an answer.
// With nothing pending, the background read is the wait for the next
// request: it gets the idle deadline, and Shutdown may close it. With
// requests pending (pipelined) it is cut short, as net/http's
// abortPendingRead does, so they are answered now. False when the
// connection is done.
func (c *h1conn) endBackgroundRead() bool {
	if !c.bgReading {
		return true
	}
	if c.start < c.end {
		c.setReadDeadline(aLongTimeAgo)
		c.waitBackgroundRead()
		if c.bgErr != nil && c.bgN == 0 && !isTimeout(c.bgErr) {
			c.nc.Close()
			return false
		}
		return true
	}
	c.idle.Store(true)
	var d time.Time
	if t := c.s.idleTimeout(); t > 0 {
		d = time.Now().Add(t)
	}
	if c.s.shutting.Load() {
		d = aLongTimeAgo
	}
	c.setReadDeadline(d)
	c.waitBackgroundRead()
	c.idle.Store(false)
	if c.bgN == 0 {
		c.nc.Close()
		return false
	}
	return true
}

// isTimeout reports a deadline error.
func isTimeout(err error) bool {
	te, ok := err.(interface{ Timeout() bool })
	return ok && te.Timeout()
}
