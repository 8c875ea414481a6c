package localcluster

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// portProxy forwards the TCP connections of one service port to its
// backends, round-robin. A backend that refuses is skipped for the next
// one; with none left the client's connection is closed, as a client of a
// Service without ready endpoints sees its connection fail.
type portProxy struct {
	addr string
	ln   net.Listener
	log  logr.Logger
	// ctx ends with close, aborting dials in flight.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards backends, next, conns and closed
	backends []string
	next     int
	conns    map[net.Conn]struct{}
	closed   bool
}

// dialTimeout bounds the connection to one backend; a paused (SIGSTOPped)
// pod still accepts at the kernel level, so this only catches the dead.
const dialTimeout = 2 * time.Second

func listenPortProxy(addr string, log logr.Logger) (*portProxy, error) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		cancel()
		return nil, err
	}
	p := &portProxy{addr: addr, ln: ln, log: log, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *portProxy) setBackends(backends []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.Equal(p.backends, backends) {
		p.log.V(1).Info("Backends changed", "backends", backends)
	}
	p.backends = backends
}

func (p *portProxy) currentBackends() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.backends)
}

// pick returns the backends in the order this connection should try them:
// the next one in turn first.
func (p *portProxy) pick() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.backends)
	if n == 0 {
		return nil
	}
	start := p.next % n
	p.next = (start + 1) % n
	return append(slices.Clone(p.backends[start:]), p.backends[:start]...)
}

func (p *portProxy) serve() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(conn) {
			conn.Close()
			return
		}
		go p.forward(conn)
	}
}

// track registers a live connection so close can end it; false once closed.
func (p *portProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *portProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *portProxy) forward(client net.Conn) {
	defer p.untrack(client)
	defer client.Close()
	var backend net.Conn
	for _, addr := range p.pick() {
		c, err := (&net.Dialer{Timeout: dialTimeout}).DialContext(p.ctx, "tcp", addr)
		if err == nil {
			backend = c
			break
		}
		p.log.V(1).Info("Backend refused", "backend", addr, "err", err.Error())
	}
	if backend == nil {
		return
	}
	if !p.track(backend) {
		backend.Close()
		return
	}
	defer p.untrack(backend)
	defer backend.Close()
	var wg sync.WaitGroup
	wg.Go(func() { pipe(backend, client) })
	pipe(client, backend)
	wg.Wait()
}

// pipe copies src to dst, then half-closes dst so the other side sees EOF
// while the opposite direction may still be talking.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok && err == nil {
		_ = tc.CloseWrite()
		return
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		// A reset on one side ends both.
		dst.Close()
		src.Close()
	}
}

// close stops listening and ends every forwarded connection.
func (p *portProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.cancel()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}
