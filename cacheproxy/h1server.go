package cacheproxy

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves a Proxy's public port with a fast path in front of
// net/http.
//
// Each connection starts on the fast path: a loop that reads request heads
// in place (h1request.go) and answers fresh hits from pre-rendered bytes
// (hitpath.go), batching the answers to pipelined requests into one write.
// A plain GET or HEAD it read but cannot answer from the cache (a miss, a
// stale copy) is served on the same connection by the http.Server's
// Handler, through a response writer that writes what net/http's writes
// (h1handler.go, h1response.go), and the connection stays on the loop.
// The first request the reader does not accept (a POST, a body, an
// upgrade, a conditional or range request, anything unusual, malformed or
// large) hands the connection, with every byte read and not yet answered,
// to the http.Server, which serves it from then on exactly as it would
// have from the start: its request smuggling defences, limits, timeouts,
// keep-alive and error answers all stay net/http's. A hit costs no header
// map, no request object, no goroutine beyond the connection's and no
// allocation (BenchmarkServe).
//
// The fast path applies the http.Server's ReadHeaderTimeout (or
// ReadTimeout) to a request head and IdleTimeout (or ReadTimeout) between
// requests, and WriteTimeout to the answers the Handler writes on it; a
// client that takes no byte of any answer for the Proxy's WriteTimeout is
// disconnected (h1write.go). MaxHeaderBytes and the rest apply once
// net/http has the connection. A head longer than the fast path's buffer (8 KiB)
// goes to net/http.
//
// Every connection net/http reads passes through a frame scanner
// (framing.go), so the Proxy can refuse a request with both Content-Length
// and Transfer-Encoding; under a bare http.Server it can only close the
// connection after such a request. Serve the public port through a
// Server, with DisableFastPath for net/http alone.
type Server struct {
	// DisableFastPath hands every connection to net/http at once (set it
	// before Serve). False (the default) answers hits on the fast path.
	DisableFastPath bool

	p       *Proxy
	srv     *http.Server
	handoff *handoffListener

	// mu guards ln and conns.
	mu    sync.Mutex
	ln    net.Listener
	conns map[*h1conn]struct{}

	shutting atomic.Bool
	baseCtx  context.Context // the requests' context before ConnContext (h1handler.go)
}

// h1BufSize is the fast path's read buffer per connection: the longest
// request head it reads itself.
const h1BufSize = 8 << 10

// NewServer returns a Server answering hits on p's cache itself and
// everything else through srv, whose Handler is set to p when nil. It sets
// srv.ConnContext (calling the one set before), which tells the Proxy the
// connection of each request.
func NewServer(p *Proxy, srv *http.Server) *Server {
	if srv.Handler == nil {
		srv.Handler = p
	}
	next := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if next != nil {
			ctx = next(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
	}
	return &Server{p: p, srv: srv, handoff: newHandoffListener(), conns: make(map[*h1conn]struct{})}
}

// Serve accepts connections on ln until Shutdown or Close, when it returns
// http.ErrServerClosed, or until ln fails.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.handoff.addr = ln.Addr()
	base := context.Background()
	if s.srv.BaseContext != nil {
		base = s.srv.BaseContext(ln)
	}
	s.baseCtx = context.WithValue(base, http.ServerContextKey, s.srv)
	s.mu.Unlock()
	go func() { _ = s.srv.Serve(s.handoff) }() // ends when Shutdown or Close closes handoff
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Like net/http: back off on errors such as EMFILE and go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if s.srv.ErrorLog != nil {
				s.srv.ErrorLog.Printf("cacheproxy: accept error: %v; retrying in %v", err, delay)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		if s.DisableFastPath {
			s.handoff.hand(&handedConn{Conn: nc})
			continue
		}
		if c := s.track(nc); c != nil {
			go c.serve()
		}
	}
}

// track registers a new connection; nil (and the connection closed) when
// shutting down.
func (s *Server) track(nc net.Conn) *h1conn {
	c := &h1conn{s: s, nc: nc, buf: make([]byte, h1BufSize), out: make([]byte, 0, 4<<10), key: make([]byte, 0, 256), variant: make([]byte, 0, 64)}
	c.initWriter()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) untrack(c *h1conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes fast-path connections once they are
// idle, then shuts the http.Server down (which drains the connections it
// was handed). Like http.Server.Shutdown it returns ctx's error if ctx ends
// first; Close then ends what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.closeIdle() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return s.srv.Shutdown(ctx)
}

// closeIdle closes the fast-path connections waiting for a request and
// returns how many connections the fast path still serves.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle.Load() {
			c.nc.Close()
		}
	}
	return len(s.conns)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return s.srv.Close()
}

// readHeaderTimeout and idleTimeout follow http.Server's fallbacks.
func (s *Server) readHeaderTimeout() time.Duration {
	if s.srv.ReadHeaderTimeout > 0 {
		return s.srv.ReadHeaderTimeout
	}
	return s.srv.ReadTimeout
}

// logf logs as the http.Server does.
func (s *Server) logf(format string, args ...any) {
	if s.srv.ErrorLog != nil {
		s.srv.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) idleTimeout() time.Duration {
	if s.srv.IdleTimeout > 0 {
		return s.srv.IdleTimeout
	}
	return s.srv.ReadTimeout
}

// h1conn is one connection on the fast path.
type h1conn struct {
	s  *Server
	nc net.Conn

	buf        []byte // read buffer; buf[start:end] is read and not yet answered
	start, end int
	headStart  time.Time // when the first bytes of the pending head arrived
	deadline   time.Time // the read deadline last set
	req        h1Request
	key        []byte // the cache key being built (hitpath.go)
	variant    []byte // the request's Vary values being built (hitpath.go)

	out    []byte // answers not yet written
	w      h1writer
	failed bool // a write failed or timed out: close

	idle atomic.Bool // blocked reading with nothing pending (Shutdown closes it)

	// The full handler's requests on this connection (h1handler.go).
	resp          h1response
	ctx           context.Context // the requests' parent, made on the first one
	remoteAddr    string
	writeDeadline bool // the handler set a write deadline: cleared after its answer
	// The background read while the handler runs: bgDone receives when
	// it returned bgN bytes (at bgAt) and bgErr.
	bgReading bool
	bgDone    chan struct{}
	bgN       int
	bgErr     error
	bgAt      time.Time
}

// serve runs the fast path until the connection ends or is handed off.
func (c *h1conn) serve() {
	defer c.s.untrack(c)
	for {
		n, v := parseH1Request(c.buf[c.start:c.end], &c.req)
		switch v {
		case h1Incomplete:
			if c.end == len(c.buf) {
				if c.start == 0 {
					c.handOff() // a head longer than the buffer
					return
				}
				c.end = copy(c.buf, c.buf[c.start:c.end])
				c.start = 0
			}
			if !c.flush() || !c.read() {
				c.nc.Close()
				return
			}
			continue
		case h1HandOff:
			c.handOff()
			return
		}
		if !c.s.p.serveFastHit(c, &c.req) {
			if !c.serveHandler(n) {
				return
			}
			continue
		}
		c.start += n
		if c.failed {
			c.nc.Close()
			return
		}
		if c.req.close {
			c.closeWriteAndWait()
			return
		}
		if c.start == c.end {
			c.start, c.end = 0, 0
		}
	}
}

// read reads more of the connection into buf, under the idle deadline when
// nothing is pending and the head deadline otherwise. False when the
// connection is done: closed, timed out, or shutting down while idle.
func (c *h1conn) read() bool {
	idle := c.start == c.end
	var d time.Time
	if idle {
		c.idle.Store(true)
		if c.s.shutting.Load() {
			return false
		}
		if t := c.s.idleTimeout(); t > 0 {
			d = time.Now().Add(t)
		}
	} else if t := c.s.readHeaderTimeout(); t > 0 {
		d = c.headStart.Add(t)
	}
	c.setReadDeadline(d)
	n, err := c.nc.Read(c.buf[c.end:])
	if idle {
		c.idle.Store(false)
		c.headStart = time.Now()
	}
	c.end += n
	return err == nil || n > 0
}

// setReadDeadline sets the read deadline unless the one set is within a
// second of d: resetting a deadline costs a timer update per request, and
// a second either way does not matter for timeouts of seconds.
func (c *h1conn) setReadDeadline(d time.Time) {
	if d.IsZero() == c.deadline.IsZero() && (d.IsZero() || absDuration(d.Sub(c.deadline)) < time.Second) {
		return
	}
	if c.nc.SetReadDeadline(d) == nil {
		c.deadline = d
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// writeBody queues a response body: small ones are copied behind the head,
// so pipelined answers leave in one write; large ones are written at once
// with the queued bytes in one writev (h1write.go).
func (c *h1conn) writeBody(body []byte) {
	if len(body) <= 4<<10 {
		c.out = append(c.out, body...)
		if len(c.out) >= 32<<10 {
			c.flush()
		}
		return
	}
	if !c.failed && !c.write(c.out, body) {
		c.failed = true
	}
	c.out = c.out[:0]
}

// flush writes the queued answers; false if the write failed.
func (c *h1conn) flush() bool {
	if c.failed {
		return false
	}
	if len(c.out) == 0 {
		return true
	}
	ok := c.write(c.out, nil)
	c.out = c.out[:0]
	if !ok {
		c.failed = true
	}
	return ok
}

// closeWriteAndWait ends a connection the client asked to close as
// net/http does: the answers written, the sending side shut, then a short
// wait for the client to close its side, so that bytes it sent after its
// last request do not make the kernel reset the connection before the
// answers are read.
func (c *h1conn) closeWriteAndWait() {
	defer c.nc.Close()
	if !c.flush() {
		return
	}
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.idle.Store(true) // Shutdown may close it
	if c.nc.SetReadDeadline(time.Now().Add(rstAvoidanceDelay)) != nil {
		return
	}
	for {
		if _, err := c.nc.Read(c.buf); err != nil {
			return
		}
	}
}

// rstAvoidanceDelay is how long closeWriteAndWait waits, net/http's figure.
const rstAvoidanceDelay = 500 * time.Millisecond

// handOff gives the connection, with the bytes read and not answered, to
// net/http. The answers already queued are written first, so the order of
// pipelined answers holds.
func (c *h1conn) handOff() {
	if !c.flush() {
		c.nc.Close()
		return
	}
	c.s.untrack(c)
	c.s.handoff.hand(&handedConn{Conn: c.nc, pending: c.buf[c.start:c.end]})
}

// handoffListener is the net.Listener the http.Server serves: it yields
// the connections the fast path hands off.
type handoffListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// hand passes c to the http.Server, or closes it if that has stopped.
func (l *handoffListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// handedConn is a connection handed to net/http: reads return the bytes
// the fast path read but did not answer first, and every byte read goes
// through the frame scanner (framing.go).
type handedConn struct {
	net.Conn
	pending []byte
	scan    frameScanner
}

func (h *handedConn) Read(b []byte) (int, error) {
	if len(h.pending) > 0 {
		n := copy(b, h.pending)
		h.pending = h.pending[n:]
		h.scan.feed(b[:n])
		return n, nil
	}
	n, err := h.Conn.Read(b)
	h.scan.feed(b[:n])
	return n, err
}

// ReadFrom keeps net/http's sendfile and splice paths (io.ReaderFrom on
// the TCP connection) for the bodies it writes.
func (h *handedConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(h.Conn, r) }

// CloseWrite lets net/http half-close as it does on a bare TCP connection.
func (h *handedConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
