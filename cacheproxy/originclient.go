package cacheproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The origin client of cache fills: an http.RoundTripper for an http://
// origin that writes a GET's head itself and reads the answer's head in
// place (originresponse.go), over connections it keeps alive and reuses.
//
// http.Transport costs a miss more than the rest of the proxy together: a
// reader and a writer goroutine per connection, a channel hand-off for each
// request and each response, a request copy, its own cancellation
// plumbing. A fill needs none of it: one GET without a body on one
// connection at a time, read to its end. Passes (bodies, upgrades, Expect,
// HTTP/2) and https:// origins stay with http.Transport.
//
// What it keeps of http.Transport: the response is parsed with net/http's
// rules (the same framing, Content-Length and chunked checks, "unsupported
// transfer encoding"), stricter where the answer looks like smuggling
// (originresponse.go); 1xx answers before the final
// one are skipped; request fields are validated as Transport validates
// them; a request on a reused connection that fails before any byte of
// the answer arrived is sent again on a new one (the origin may have
// closed an idle connection); OriginTimeout bounds dialling and the wait
// for the response head; the request's context ends the exchange at any
// point and its error is the context's.

// originClient is the RoundTripper of fills to an http:// origin.
type originClient struct {
	addr        string // host:port to dial
	dialer      net.Dialer
	headTimeout time.Duration // dial and response head, OriginTimeout

	// mu guards idle.
	mu   sync.Mutex
	idle []*originConn // most recently used last
}

// Idle connections: at most originMaxIdle are kept, each at most
// originIdleTimeout (http.Transport's defaults in newOriginTransport).
const (
	originMaxIdle     = 256
	originIdleTimeout = 90 * time.Second
	max1xxResponses   = 5 // as net/http: more 1xx than this is an error
)

// originConn is one connection to the origin with its buffers.
type originConn struct {
	nc       net.Conn
	br       *bufio.Reader
	wbuf     []byte // the request head being written
	hbuf     []byte // the response head being read (originresponse.go)
	idleFrom time.Time
}

// Interface guard: fills call the origin client as a RoundTripper.
var _ http.RoundTripper = (*originClient)(nil)

func newOriginClient(origin string, timeout time.Duration) *originClient {
	return &originClient{
		addr:        origin,
		dialer:      net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		headTimeout: timeout,
	}
}

// originAddr is the host:port of an http:// origin URL's host.
func originAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), "80")
}

// aLongTimeAgo is a deadline in the past: it ends blocked reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// errSwitchedProtocols refuses a 101 to a request that asked for no
// upgrade (a fill never does).
var errSwitchedProtocols = errors.New("origin switched protocols without being asked to")

// RoundTrip sends req, a GET without a body, and returns the origin's final
// answer. Its body must be read to its end or closed.
func (c *originClient) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Body != nil && req.Body != http.NoBody {
		return nil, fmt.Errorf("origin client: %s with a body: only GET without one is sent here", req.Method)
	}
	resp, err := c.send(req.Context(), requestHead{req})
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// headAppender appends the head of the GET an exchange sends.
type headAppender interface {
	appendHead(b []byte) ([]byte, error)
}

// requestHead is a request's head, as Request.Write writes it.
type requestHead struct{ req *http.Request }

func (r requestHead) appendHead(b []byte) ([]byte, error) { return appendRequestHead(b, r.req) }

// send sends the GET whose head h appends and returns the origin's final
// answer; ctx ends the exchange at any point.
func (c *originClient) send(ctx context.Context, h headAppender) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		oc, reused, err := c.conn(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, oc, h)
		if err == nil {
			return resp, nil
		}
		oc.nc.Close()
		var nothing *nothingReadError
		if ctx.Err() != nil {
			return nil, fmt.Errorf("origin request: %w", ctx.Err())
		}
		if !reused || attempt > 0 || !errors.As(err, &nothing) {
			return nil, err
		}
		// A reused connection the origin had closed: GET is idempotent,
		// send it again on a new connection, once (as http.Transport does).
	}
}

// nothingReadError is a failure before any byte of the answer arrived.
type nothingReadError struct{ err error }

func (e *nothingReadError) Error() string { return e.err.Error() }
func (e *nothingReadError) Unwrap() error { return e.err }

// conn returns an idle connection, or dials a new one.
func (c *originClient) conn(ctx context.Context) (oc *originConn, reused bool, err error) {
	now := time.Now()
	c.mu.Lock()
	for len(c.idle) > 0 {
		oc = c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if now.Sub(oc.idleFrom) < originIdleTimeout {
			c.mu.Unlock()
			return oc, true, nil
		}
		oc.nc.Close()
	}
	c.mu.Unlock()
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	return &originConn{nc: nc, br: bufio.NewReaderSize(nc, 4<<10), wbuf: make([]byte, 0, 1<<10)}, false, nil
}

// put keeps oc for the next request, or closes it.
func (c *originClient) put(oc *originConn) {
	oc.idleFrom = time.Now()
	c.mu.Lock()
	if len(c.idle) < originMaxIdle {
		c.idle = append(c.idle, oc)
		oc = nil
	}
	c.mu.Unlock()
	if oc != nil {
		oc.nc.Close()
	}
}

// CloseIdleConnections closes the connections kept for reuse.
func (c *originClient) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, oc := range idle {
		oc.nc.Close()
	}
}

// exchange writes the request on oc and reads the head of the final answer.
func (c *originClient) exchange(ctx context.Context, oc *originConn, h headAppender) (*http.Response, error) {
	head, err := h.appendHead(oc.wbuf[:0])
	if err != nil {
		return nil, err
	}
	oc.wbuf = head[:0]
	if c.headTimeout > 0 {
		_ = oc.nc.SetDeadline(time.Now().Add(c.headTimeout))
	}
	// The context ends the exchange at any point: it pulls the deadline
	// in, so a blocked read or write returns at once. Registered after the
	// head's deadline, which would otherwise overwrite it.
	w := watchConn(ctx, oc.nc)
	if _, err := oc.nc.Write(head); err != nil {
		w.stop()
		return nil, &nothingReadError{err}
	}
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		if _, err := oc.br.Peek(1); err != nil {
			w.stop()
			return nil, &nothingReadError{err}
		}
		resp, oc.hbuf, err = readOriginResponse(oc.br, oc.hbuf)
		if err != nil {
			w.stop()
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n1xx == max1xxResponses {
			w.stop()
			return nil, errors.New("origin sent too many 1xx responses")
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		w.stop()
		return nil, errSwitchedProtocols
	}
	if c.headTimeout > 0 {
		_ = oc.nc.SetDeadline(time.Time{}) // the body is the fill's to bound (OriginTimeout per stall)
		if ctx.Err() != nil {
			_ = oc.nc.SetDeadline(aLongTimeAgo) // the context ended while the deadline was cleared
		}
	}
	resp.Body = &originBody{ReadCloser: resp.Body, c: c, oc: oc, ctx: ctx, watch: w, keep: !resp.Close}
	return resp, nil
}

// originBody is an answer's body: read to its end on a connection that
// stays open, it gives the connection back for reuse.
type originBody struct {
	io.ReadCloser
	c     *originClient
	oc    *originConn
	ctx   context.Context
	watch connWatch // ends with the exchange
	keep  bool      // the connection may be reused after the body
	done  bool
}

func (b *originBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.finish(true)
	case err != nil:
		if b.ctx.Err() != nil {
			err = fmt.Errorf("origin body: %w", b.ctx.Err())
		}
		b.finish(false)
	}
	return n, err
}

// inMemory reports a body of known length already read from the
// connection whole (with the head, for a small answer): reading it cannot
// wait on the origin.
func (b *originBody) inMemory() bool {
	fb, ok := b.ReadCloser.(*fixedOriginBody)
	return ok && fb.left <= int64(fb.br.Buffered())
}

// bodyInMemory reports an answer's body that inMemory says cannot stall:
// the origin client's, read whole.
func bodyInMemory(body io.Reader) bool {
	b, ok := body.(*originBody)
	return ok && b.inMemory()
}

// Close ends the exchange; a body not read to its end closes the connection.
func (b *originBody) Close() error {
	b.finish(false)
	return nil
}

// finish gives the connection back when the body was read whole, nothing
// follows it, the origin keeps it open and the context never ended it.
func (b *originBody) finish(whole bool) {
	if b.done {
		return
	}
	b.done = true
	stopped := b.watch.stop()
	if whole && b.keep && stopped && b.oc.br.Buffered() == 0 {
		b.c.put(b.oc)
		return
	}
	b.oc.nc.Close()
}

// reqWriteExcluded are the fields appendRequestHead writes itself or not
// at all, as Request.Write does.
var reqWriteExcluded = map[string]bool{"Host": true, "User-Agent": true, fieldContentLength: true, fieldTransferEncoding: true, fieldTrailer: true}

// appendRequestHead appends req's head as Request.Write writes a GET
// without a body: request line, Host, User-Agent when not empty, the other
// fields with line breaks in values turned into spaces. Field names and
// values are validated as http.Transport validates them.
func appendRequestHead(b []byte, req *http.Request) ([]byte, error) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	host = strings.TrimSuffix(host, ":")
	if !httpguts.ValidHostHeader(host) {
		return nil, fmt.Errorf("origin request: invalid Host %q", host)
	}
	b = append(b, "GET "...)
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if ua := req.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		b = appendField(b, "User-Agent", ua[0])
	}
	for name, values := range req.Header {
		var err error
		if b, err = appendRequestField(b, name, values); err != nil {
			return nil, err
		}
	}
	return append(b, "\r\n"...), nil
}

// appendRequestField validates a field as http.Transport does, and
// appends it unless Request.Write leaves it out (reqWriteExcluded).
func appendRequestField(b []byte, name string, values []string) ([]byte, error) {
	if err := checkRequestField(name, values); err != nil {
		return nil, err
	}
	if reqWriteExcluded[name] {
		return b, nil
	}
	for _, v := range values {
		b = appendField(b, name, v)
	}
	return b, nil
}

// checkRequestField validates a request field as http.Transport does.
func checkRequestField(name string, values []string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("origin request: invalid header field name %q", name)
	}
	for _, v := range values {
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("origin request: invalid header field value for %q", name)
		}
	}
	return nil
}

// appendField appends "name: value\r\n", the value trimmed and without
// line breaks (Header.Write's rule).
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, wireValue(value)...)
	return append(b, "\r\n"...)
}
