package cacheproxy

import (
	"errors"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// The fast path's writes (h1server.go): the queued answers and a large
// body leave in one writev(2), issued through the connection's RawConn so
// that a client that stops reading can be told apart from one that reads
// slowly.
//
// A write that the socket takes at once (every 100 KiB hit and nearly
// every 1 MiB one on loopback, docs/benchmarks.md) costs what net.Buffers'
// writev costs: no deadline is set, no timer touched. Only when the socket
// is full (EAGAIN) does the connection arm a write deadline of the Proxy's
// WriteTimeout, renewed at each later EAGAIN that follows progress, and
// cleared once the write is done: a client that takes no byte of an answer
// for WriteTimeout is disconnected, as readers of a fill already are
// (stream.go), however long a slow but steady reader takes over a large
// body. Before, a hit written to a client that had stopped reading waited
// forever, holding its connection, its goroutine and the object's body.
// While the full handler has a write deadline of its own set
// (h1handler.go, h1response.go), the connection leaves the deadline alone.

// errShortWrite is a writev that took nothing without an error.
var errShortWrite = errors.New("cacheproxy: writev wrote 0 bytes")

// h1writer is a connection's write state.
type h1writer struct {
	raw     syscall.RawConn       // nil when the connection is not a socket: plain writes
	writeFn func(fd uintptr) bool // c.writev, made once per connection
	pending [2][]byte             // what the current write still has to send
	iovecs  [2]syscall.Iovec
	err     error
	// armed: the write deadline is the fast path's own (set at an EAGAIN);
	// progress: bytes were taken since it was armed.
	armed, progress bool
}

// initWriter prepares c's writes; a connection without a RawConn (not a
// socket) writes through net.Conn.Write with no write timeout.
func (c *h1conn) initWriter() {
	if sc, ok := c.nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.w.raw = raw
			c.w.writeFn = c.writev
		}
	}
}

// write sends a then b; false if the connection failed or timed out.
func (c *h1conn) write(a, b []byte) bool {
	if c.w.raw == nil {
		bufs := net.Buffers{a, b}
		_, err := bufs.WriteTo(c.nc)
		return err == nil
	}
	c.w.pending = [2][]byte{a, b}
	c.w.err = nil
	err := c.w.raw.Write(c.w.writeFn)
	c.w.pending = [2][]byte{}
	c.w.iovecs = [2]syscall.Iovec{} // keep no body reachable
	if c.w.armed {
		c.w.armed = false
		if !c.writeDeadline {
			_ = c.nc.SetWriteDeadline(time.Time{})
		}
	}
	return err == nil && c.w.err == nil
}

// writev is the RawConn callback: it writes what is pending until done
// (true) or the socket is full (false: the poller waits for room, or for
// the deadline armed here).
func (c *h1conn) writev(fd uintptr) bool {
	w := &c.w
	for {
		n := 0
		for _, p := range w.pending {
			if len(p) > 0 {
				w.iovecs[n].Base = &p[0]
				w.iovecs[n].SetLen(len(p))
				n++
			}
		}
		if n == 0 {
			return true
		}
		r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iovecs[0])), uintptr(n))
		switch errno {
		case 0:
			if r == 0 {
				w.err = errShortWrite
				return true
			}
			w.progress = true
			w.consume(int(r))
		case syscall.EINTR:
		case syscall.EAGAIN:
			if t := c.s.p.cfg.WriteTimeout; t > 0 && !c.writeDeadline && (w.progress || !w.armed) {
				if err := c.nc.SetWriteDeadline(time.Now().Add(t)); err != nil {
					w.err = err
					return true
				}
				w.armed, w.progress = true, false
			}
			return false
		default:
			w.err = errno
			return true
		}
	}
}

// consume drops the first n pending bytes.
func (w *h1writer) consume(n int) {
	for i := range w.pending {
		k := min(n, len(w.pending[i]))
		w.pending[i] = w.pending[i][k:]
		n -= k
	}
}
