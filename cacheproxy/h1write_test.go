package cacheproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// largeHitBody is larger than what the kernel buffers between the fast
// path and a client that does not read (send plus receive buffer on
// loopback, with the client's receive buffer made small), so the fast
// path's writev of it blocks.
const largeHitBody = 8 << 20

// largeHitEnv stores an 8 MiB object at /large and serves the proxy
// through a Server of its own, with the Proxy's WriteTimeout wt.
func largeHitEnv(t *testing.T, wt time.Duration) (body []byte, addr string, srv *Server) {
	t.Helper()
	body = make([]byte, largeHitBody)
	for i := range body {
		body[i] = byte(i % 251)
	}
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}, func(c *Config) { c.WriteTimeout = wt })
	// Stored through the handler, to a recorder: a client of the fill
	// would be held to the short WriteTimeout on a loaded machine.
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://www.example.com/large", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
		t.Fatalf("filling /large: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = NewServer(e.proxy, &http.Server{})
	serveUntilCleanup(t, srv, ln)
	return body, ln.Addr().String(), srv
}

// dialSmallWindow connects with a 16 KiB receive buffer, so that what the
// client does not read soon fills the path and blocks the server.
func dialSmallWindow(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// fastConns is how many connections srv's fast path serves.
func fastConns(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// waitNoFastConns waits until srv's fast path serves no connection.
func waitNoFastConns(t *testing.T, srv *Server) {
	t.Helper()
	waitFastConns(t, srv, 0)
}

// waitFastConns waits until srv's fast path serves want connections.
func waitFastConns(t *testing.T, srv *Server, want int) {
	t.Helper()
	tick, deadline := time.NewTicker(5*time.Millisecond), time.After(10*time.Second)
	defer tick.Stop()
	for fastConns(srv) != want {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the fast path serves %d connections, not %d", fastConns(srv), want)
		}
	}
}

const getLarge = "GET /large HTTP/1.1\r\nHost: www.example.com\r\n\r\n"

// A client that stops reading a large hit is disconnected once it has
// taken no byte for WriteTimeout; before, the write waited forever.
func TestFastHitStalledReaderTimesOut(t *testing.T) {
	// A WriteTimeout far longer than waitFastConns' polling, so that the
	// connection cannot come and go unseen between two looks.
	body, addr, srv := largeHitEnv(t, time.Second)
	c := dialSmallWindow(t, addr)
	if _, err := io.WriteString(c, getLarge); err != nil {
		t.Fatal(err)
	}
	// The server takes the connection on a goroutine of its own: first
	// it serves it, then the write times out and the connection closes.
	// (Waiting for none at once passed before the server had it, and the
	// client, reading, then got the whole body.)
	waitFastConns(t, srv, 1)
	waitNoFastConns(t, srv)
	// What the kernel had taken arrives, then the end: not the whole body.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= int64(len(body)) {
		t.Fatalf("a stalled reader got %d of %d bytes (%v): the write did not time out", n, len(body), err)
	}
}

// A slow reader that keeps taking bytes gets the whole body, however much
// longer than WriteTimeout it takes, and the write deadline is gone after
// the answer: the next hit on the connection, once WriteTimeout has
// passed, is answered.
func TestFastHitSlowReaderGetsWholeBody(t *testing.T) {
	const wt = time.Second
	body, addr, srv := largeHitEnv(t, wt)
	c := dialSmallWindow(t, addr)
	br := bufio.NewReaderSize(c, 64<<10)
	tick := time.NewTicker(25 * time.Millisecond) // 64 pieces: 1.6s in all, 25ms without reading each
	defer tick.Stop()
	if _, err := io.WriteString(c, getLarge); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	got := make([]byte, 0, len(body))
	piece := make([]byte, len(body)/64)
	for len(got) < len(body) {
		<-tick.C
		n, err := io.ReadFull(resp.Body, piece)
		got = append(got, piece[:n]...)
		if err != nil {
			t.Fatalf("after %d of %d bytes in %v: %v", len(got), len(body), time.Since(start), err)
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the body read slowly differs from the stored one")
	}
	// A deadline left armed would fail this write at once.
	expired := time.NewTimer(wt + 100*time.Millisecond)
	<-expired.C
	if _, err := io.WriteString(c, "GET /large HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	again, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the hit after a slow one: %v", err)
	}
	defer again.Body.Close()
	n, err := io.Copy(io.Discard, again.Body)
	if err != nil || n != int64(len(body)) {
		t.Fatalf("the hit after a slow one: %d of %d bytes, %v", n, len(body), err)
	}
	waitNoFastConns(t, srv)
}

// A client that resets its connection in the middle of a large hit ends
// that connection only: the fast path closes it and serves the next
// client.
func TestFastHitClientResetsMidBody(t *testing.T) {
	body, addr, srv := largeHitEnv(t, time.Minute)
	for i := range 3 {
		c := dialSmallWindow(t, addr)
		if _, err := io.WriteString(c, getLarge); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		if err := c.SetLinger(0); err != nil { // close sends RST
			t.Fatal(err)
		}
		c.Close()
		waitNoFastConns(t, srv)
		t.Run(fmt.Sprint("next client ", i), func(t *testing.T) {
			c := dialTest(t, addr)
			defer c.Close()
			if _, err := io.WriteString(c, "GET /large HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(got, body) || resp.Header.Get("Cache-Status") == "" {
				t.Fatalf("%d of %d bytes, %v, Cache-Status %q", len(got), len(body), err, resp.Header.Get("Cache-Status"))
			}
		})
	}
}
