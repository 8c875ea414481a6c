package cacheproxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedOrigin is an origin on a real listener that answers each request
// head on a connection with answer(connection number, request number on
// that connection, request), written as is; close after it ends the
// connection.
type scriptedOrigin struct {
	ln    net.Listener
	conns atomic.Int64
}

type scriptedAnswer struct {
	raw   string
	close bool
}

func newScriptedOrigin(t *testing.T, answer func(conn, n int, req *http.Request) scriptedAnswer) *scriptedOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	o := &scriptedOrigin{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conn := int(o.conns.Add(1))
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					a := answer(conn, n, req)
					if _, err := io.WriteString(c, a.raw); err != nil || a.close {
						return
					}
				}
			}()
		}
	}()
	return o
}

// newScriptedProxy is a Proxy in front of o, served by a Server.
func newScriptedProxy(t *testing.T, o *scriptedOrigin) (base string) {
	t.Helper()
	u, _ := url.Parse("http://" + o.ln.Addr().String())
	p, err := New(Config{Origin: u, Logger: slog.New(slog.DiscardHandler), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return newFront(t, p, true).URL
}

func getBody(t *testing.T, base, path string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Host = "www.example.com"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

const cacheable = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\n"

// Misses one after another share one origin connection; one the origin
// closed while it was idle is replaced, and the request sent again, without
// the client seeing an error.
func TestOriginClientReusesConnections(t *testing.T) {
	o := newScriptedOrigin(t, func(conn, n int, req *http.Request) scriptedAnswer {
		body := req.URL.Path
		// The second connection is closed after its third answer, as an
		// origin's idle timeout would, without saying so.
		return scriptedAnswer{raw: cacheable + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body, close: conn == 1 && n == 3}
	})
	base := newScriptedProxy(t, o)
	for i := range 6 {
		path := "/reuse/" + strconv.Itoa(i)
		status, _, body := getBody(t, base, path)
		if status != http.StatusOK || body != path {
			t.Fatalf("GET %s: %d %q", path, status, body)
		}
	}
	if n := o.conns.Load(); n != 2 {
		t.Errorf("%d origin connections for 6 misses, one closed after 3: want 2", n)
	}
}

// Bodies framed every way a response may be (chunked with trailers, read
// until close, after 1xx interim answers, no body) are stored whole.
func TestOriginClientFraming(t *testing.T) {
	answers := map[string]string{
		"/chunked":  cacheable + "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
		"/close":    "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello world",
		"/interim":  "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + cacheable + "Content-Length: 11\r\n\r\nhello world",
		"/http10":   "HTTP/1.0 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
		"/nobody":   "HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n\r\n",
		"/gzipped":  cacheable + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"/switched": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	}
	o := newScriptedOrigin(t, func(_, _ int, req *http.Request) scriptedAnswer {
		raw := answers[req.URL.Path]
		return scriptedAnswer{raw: raw, close: strings.Contains(raw, "close") || strings.HasPrefix(raw, "HTTP/1.0") || strings.Contains(raw, "101")}
	})
	base := newScriptedProxy(t, o)
	for _, tc := range []struct {
		path, body, status2 string
		code                int
	}{
		{"/chunked", "hello world", "hit", 200},
		{"/close", "hello world", "hit", 200},
		{"/interim", "hello world", "hit", 200},
		{"/http10", "hello world", "hit", 200},
		{"/nobody", "", "hit", 204},
		{"/gzipped", "", "detail=origin-unsupported-transfer-coding", 502},
		{"/switched", "", "detail=origin-error", 502},
	} {
		code, _, body := getBody(t, base, tc.path)
		if code != tc.code || !strings.HasPrefix(body, tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
		code, h, body := getBody(t, base, tc.path)
		if code != tc.code || !strings.HasPrefix(body, tc.body) || !strings.Contains(h.Get("Cache-Status"), tc.status2) {
			t.Errorf("GET %s again: %d %q, Cache-Status %q; want %d %q, %q", tc.path, code, body, h.Get("Cache-Status"), tc.code, tc.body, tc.status2)
		}
	}
}

// The request a fill sends is the client's as ReverseProxy forwards it:
// hop-by-hop fields and the client's X-Forwarded-* gone, ours and Via
// added, no Go User-Agent, conditions dropped, Te: trailers kept.
func TestOriginClientRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	o := newScriptedOrigin(t, func(_, _ int, req *http.Request) scriptedAnswer {
		got <- req
		return scriptedAnswer{raw: cacheable + "Content-Length: 2\r\n\r\nok"}
	})
	base := newScriptedProxy(t, o)
	req, _ := http.NewRequest(http.MethodGet, base+"/fwd?q=1", nil)
	req.Host = "www.example.com"
	for k, v := range map[string]string{
		"Connection": "X-Hop, keep-alive", "X-Hop": "1", "Keep-Alive": "timeout=5", "Te": "trailers, deflate",
		"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6", "X-Original-Url": "/admin",
		"If-None-Match": `"x"`, "Accept": "text/plain",
	} {
		req.Header.Set(k, v)
	}
	req.Header["User-Agent"] = nil
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	want := map[string]string{
		"Accept": "text/plain", "Te": "trailers", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "www.example.com",
		"X-Forwarded-Proto": "http", "X-Hop": "", "Keep-Alive": "", "Forwarded": "", "X-Original-Url": "", "If-None-Match": "",
		"User-Agent": "",
	}
	for k, v := range want {
		if r.Header.Get(k) != v {
			t.Errorf("origin got %s: %q, want %q", k, r.Header.Get(k), v)
		}
	}
	if r.Host != "www.example.com" || r.RequestURI != "/fwd?q=1" || !strings.HasPrefix(r.Header.Get("Via"), "1.1 ") {
		t.Errorf("origin got Host %q, target %q, Via %q", r.Host, r.RequestURI, r.Header.Get("Via"))
	}
}

// An answer read whole with its head is in memory (its fill needs no stall
// timer); one whose body is still arriving, chunked, or read until close is
// not.
func TestOriginBodyInMemory(t *testing.T) {
	rest := make(chan struct{})
	t.Cleanup(func() { close(rest) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answers := map[string][]string{
		"/whole":   {cacheable + "Content-Length: 5\r\n\r\nhello"},
		"/partial": {cacheable + "Content-Length: 10\r\n\r\nhello", "world"},
		"/chunked": {cacheable + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		"/close":   {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"},
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				parts := answers[req.URL.Path]
				_, _ = io.WriteString(c, parts[0])
				if len(parts) > 1 {
					<-rest
					_, _ = io.WriteString(c, parts[1])
				}
			}()
		}
	}()
	c := newOriginClient(ln.Addr().String(), time.Minute)
	for path, want := range map[string]bool{"/whole": true, "/partial": false, "/chunked": false, "/close": false} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+path, nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if got := bodyInMemory(resp.Body); got != want {
			t.Errorf("GET %s: in memory %v, want %v", path, got, want)
		}
		resp.Body.Close()
	}
}
