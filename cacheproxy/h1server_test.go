package cacheproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// rawExchange writes in to addr and reads the responses until the server
// closes the connection: in ends with a request with Connection: close, or
// with something the server closes the connection on.
func rawExchange(t *testing.T, addr, in string) []response {
	t.Helper()
	c := dialTest(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, in); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []response
	for {
		var req *http.Request
		if len(out) == 0 && strings.HasPrefix(in, "HEAD ") {
			req = &http.Request{Method: http.MethodHead}
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
				t.Fatalf("reading response %d: %v", len(out)+1, err)
			}
			return out
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading body %d: %v", len(out)+1, err)
		}
		out = append(out, response{status: resp.StatusCode, header: resp.Header, body: string(body), close: resp.Close})
	}
}

// dialTest connects to addr with a deadline of 10s on the connection: a
// server that never answers fails the test instead of hanging it.
func dialTest(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

// twoFronts returns an env whose proxy is also served by plain net/http,
// with a stored object at /hit (and /big, 100 KiB) that carries the field
// shapes net/http writes specially.
func twoFronts(t *testing.T) (e *env, plain *httptest.Server) {
	t.Helper()
	e = newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=60")
		h.Set("Content-Type", "text/plain")
		h.Set("Etag", `"v1"`)
		h["X-Multi"] = []string{"one", "two"}
		h.Set("X-Padded", "  padded\t")
		h.Set("Cache-Status", "upstream; hit")
		h.Set("Surrogate-Key", "tag-a tag-b")
		body := "hello " + r.URL.Path
		if r.URL.Path == "/big" {
			body = strings.Repeat("b", 100<<10)
		}
		_, _ = io.WriteString(w, body)
	})
	plain = e.plain
	for _, path := range []string{"/hit", "/big"} {
		wantStatus(t, e.get(path), http.StatusOK, "upstream; hit, cacheproxy; fwd=uri-miss")
	}
	e.clock.Advance(3 * time.Second) // Age 3
	return e, plain
}

func addrOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// TestFastPathMatchesHandler checks that a hit the fast path answers is
// the answer net/http and the full handler give: status, every field, body.
func TestFastPathMatchesHandler(t *testing.T) {
	e, plain := twoFronts(t)
	for _, in := range []string{
		"GET /hit HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
		"HEAD /hit HTTP/1.1\r\nHost: WWW.Example.com:80\r\nConnection: close\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n",
	} {
		hitsBefore := e.proxy.stats().Hits
		fast := rawExchange(t, addrOf(e.front), in)
		if got := e.proxy.stats().Hits - hitsBefore; got != 1 {
			t.Fatalf("%q: %d hits counted", in, got)
		}
		slow := rawExchange(t, addrOf(plain), in)
		if len(fast) != 1 || len(slow) != 1 {
			t.Fatalf("%q: %d responses from the fast path, %d from net/http", in, len(fast), len(slow))
		}
		if fast[0].status != slow[0].status || fast[0].body != slow[0].body {
			t.Errorf("%q: fast path %d %d bytes, net/http %d %d bytes", in, fast[0].status, len(fast[0].body), slow[0].status, len(slow[0].body))
		}
		for name, values := range slow[0].header {
			if !slices.Equal(fast[0].header[name], values) {
				t.Errorf("%q: %s: fast path %q, net/http %q", in, name, fast[0].header[name], values)
			}
		}
		for name := range fast[0].header {
			if slow[0].header[name] == nil {
				t.Errorf("%q: fast path adds %s: %q", in, name, fast[0].header[name])
			}
		}
		if got := fast[0].cacheStatus(); got != "upstream; hit, cacheproxy; hit; ttl=57" || fast[0].header.Get("Age") != "3" {
			t.Errorf("%q: Cache-Status %q, Age %q", in, got, fast[0].header.Get("Age"))
		}
	}
}

// TestFastPathPipelining sends hits, then a request the fast path hands
// off, then a hit, in one write: the answers come in order, the last from
// net/http on the same connection.
func TestFastPathPipelining(t *testing.T) {
	e, _ := twoFronts(t)
	origin := e.origin.requests.Load()
	got := rawExchange(t, addrOf(e.front),
		"GET /hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n"+
			"GET /big HTTP/1.1\r\nHost: www.example.com\r\n\r\n"+
			"GET /hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n"+
			"GET /miss HTTP/1.1\r\nHost: www.example.com\r\n\r\n"+
			"GET /hit HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n")
	want := []struct{ body, status string }{
		{"hello /hit", "cacheproxy; hit"},
		{strings.Repeat("b", 100<<10), "cacheproxy; hit"},
		{"hello /hit", "cacheproxy; hit"},
		{"hello /miss", "cacheproxy; fwd=uri-miss"},
		{"hello /hit", "cacheproxy; hit"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d responses, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].body != w.body || !strings.Contains(got[i].cacheStatus(), w.status) {
			t.Errorf("response %d: %d bytes, Cache-Status %q; want %d bytes, %q", i+1, len(got[i].body), got[i].cacheStatus(), len(w.body), w.status)
		}
	}
	if n := e.origin.requests.Load() - origin; n != 1 {
		t.Errorf("%d origin requests, want 1 (the miss)", n)
	}
}

// TestFastPathAnswersAsNetHTTP sends requests the fast path must not
// answer itself, each followed by a pipelined hit, to the fast path and to
// plain net/http: the answers are the same (request smuggling defences,
// malformed requests, HTTP/1.0, large heads).
func TestFastPathAnswersAsNetHTTP(t *testing.T) {
	e, plain := twoFronts(t)
	const hit = "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
	for _, c := range []struct{ name, in string }{
		{"CL and TE", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hit},
		{"TE and CL", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + hit},
		{"two Content-Lengths", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab" + hit},
		{"Content-Length body", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 5\r\n\r\nhello" + hit},
		{"obs-fold", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nX-A: a\r\n b\r\n\r\n" + hit},
		{"bare LF", "GET /hit HTTP/1.1\nHost: www.example.com\n\n" + hit},
		{"bare CR", "GET /hit HTTP/1.1\r\nHost: www.example.com\rX: y\r\n\r\n" + hit},
		{"space before colon", "GET /hit HTTP/1.1\r\nHost : www.example.com\r\n\r\n" + hit},
		{"two Hosts", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nHost: www.example.com\r\n\r\n" + hit},
		{"no Host", "GET /hit HTTP/1.1\r\n\r\n" + hit},
		{"NUL in a value", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nX: a\x00b\r\n\r\n" + hit},
		{"oversized head", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n" + hit},
		{"long head", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nX-Long: " + strings.Repeat("a", 20<<10) + "\r\n\r\n" + hit},
		{"HTTP/1.0", "GET /hit HTTP/1.0\r\nHost: www.example.com\r\n\r\n" + hit},
		{"absolute form", "GET http://www.example.com/hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n" + hit},
		{"bad percent", "GET /a%zz HTTP/1.1\r\nHost: www.example.com\r\n\r\n" + hit},
		{"conditional", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nIf-None-Match: \"v1\"\r\n\r\n" + hit},
		{"range", "GET /hit HTTP/1.1\r\nHost: www.example.com\r\nRange: bytes=0-2\r\n\r\n" + hit},
		{"PURGE", "PURGE /hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n" + hit},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + hit},
		{"TLS handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n" + hit},
		{"host not normal", "GET /hit HTTP/1.1\r\nHost: www.example.com.\r\n\r\n" + hit},
		{"dot segment", "GET /./hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n" + hit},
	} {
		t.Run(c.name, func(t *testing.T) {
			rawExchange(t, addrOf(plain), c.in) // whatever it stores, both find
			fast := rawExchange(t, addrOf(e.front), c.in)
			slow := rawExchange(t, addrOf(plain), c.in)
			if len(fast) != len(slow) {
				t.Fatalf("%d responses from the fast path, %d from net/http", len(fast), len(slow))
			}
			for i := range fast {
				if fast[i].status != slow[i].status || fast[i].body != slow[i].body || fast[i].cacheStatus() != slow[i].cacheStatus() {
					t.Errorf("response %d: fast path %d %q (%q), net/http %d %q (%q)", i+1,
						fast[i].status, trimBody(fast[i].body), fast[i].cacheStatus(), slow[i].status, trimBody(slow[i].body), slow[i].cacheStatus())
				}
			}
		})
	}
}

func trimBody(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// TestServerShutdown checks that Shutdown closes idle fast-path
// connections, lets net/http drain the handed-off ones and returns.
func TestServerShutdown(t *testing.T) {
	e, _ := twoFronts(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(e.proxy, &http.Server{IdleTimeout: time.Minute})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// One idle connection on the fast path, one handed off.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	handed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer handed.Close()
	for _, c := range []struct {
		conn net.Conn
		req  string
	}{{idle, "GET /hit HTTP/1.1\r\nHost: www.example.com\r\n\r\n"}, {handed, "GET /hit HTTP/1.0\r\nHost: www.example.com\r\nConnection: keep-alive\r\n\r\n"}} {
		if _, err := io.WriteString(c.conn, c.req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c.conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	for _, c := range []net.Conn{idle, handed} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("connection still open after Shutdown: %d bytes, %v", n, err)
		}
	}
}

func TestAppendHostKey(t *testing.T) {
	for _, h := range []string{
		"www.example.com", "WWW.Example.COM", "example.com:80", "example.com:443", "example.com:8080",
		"Example.com.", "example.com.:8080", "example.com.:443", "[::1]", "[::1]:80", "[::1]:8443",
		"10.0.0.1:9090", "a", ".", ":80", "[::1]x",
	} {
		got, ok := appendHostKey([]byte("prefix/"), []byte(h))
		if want := "prefix/" + cachekey.Host(h); !ok || string(got) != want {
			t.Errorf("appendHostKey(%q) = %q, %v; cachekey.Host gives %q", h, got, ok, want)
		}
	}
	for _, h := range []string{"example.com:http", "example.com:", ":", "a:80:", "example.com:080"} {
		if _, ok := appendHostKey(nil, []byte(h)); ok {
			t.Errorf("appendHostKey(%q) took a port the full handler must key", h)
		}
	}
}

// FuzzFastKey checks that the fast path's key is the full handler's for
// every host and target it takes (appendHostKey, fastTarget).
func FuzzFastKey(f *testing.F) {
	f.Add("www.example.com", "/a/b?c=d")
	f.Add("Example.COM.:8080", "/a/./b")
	f.Add("[::1]:443", "/%7e")
	f.Fuzz(func(t *testing.T, host, target string) {
		if !fastHost([]byte(host)) || target == "" || target[0] != '/' {
			return
		}
		for _, c := range []byte(target) {
			if c <= ' ' || c >= 0x7f || c == '%' {
				return
			}
		}
		hk, ok := appendHostKey(nil, []byte(host))
		if ok && string(hk) != cachekey.Host(host) {
			t.Fatalf("host %q: fast key %q, cachekey.Host %q", host, hk, cachekey.Host(host))
		}
		if fastTarget([]byte(target)) && cachekey.PathQuery(target) != target {
			t.Fatalf("target %q: fast path keys it as is, cachekey.PathQuery gives %q", target, cachekey.PathQuery(target))
		}
	})
}

// TestFastPathVary checks hits on Vary variants: the fast path picks the
// variant net/http and the full handler pick, for each spelling of the
// request field.
func TestFastPathVary(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Vary", "Accept-Encoding, X-Variant")
		_, _ = io.WriteString(w, "ae="+strings.Join(r.Header.Values("Accept-Encoding"), "|")+" xv="+strings.Join(r.Header.Values("X-Variant"), "|"))
	})
	plain := httptest.NewServer(e.proxy)
	t.Cleanup(plain.Close)
	for _, fields := range []string{
		"",
		"Accept-Encoding: gzip\r\n",
		"accept-encoding:  gzip , br \r\n",
		"Accept-Encoding: gzip\r\nAccept-Encoding: br\r\n",
		"Accept-Encoding:\r\n",
		"X-Variant: a\r\nAccept-Encoding: gzip\r\n",
		"Accept-Encoding: gzip,,br\r\nX-Variant: a, b\r\n",
	} {
		in := "GET /v HTTP/1.1\r\nHost: www.example.com\r\n" + fields + "Connection: close\r\n\r\n"
		slow := rawExchange(t, addrOf(plain), in) // stores the variant if new, or hits it
		hitsBefore := e.proxy.stats().Hits
		fast := rawExchange(t, addrOf(e.front), in)
		if len(fast) != 1 || len(slow) != 1 {
			t.Fatalf("%q: %d and %d responses", fields, len(fast), len(slow))
		}
		if got := e.proxy.stats().Hits - hitsBefore; got != 1 || !strings.HasPrefix(fast[0].cacheStatus(), "cacheproxy; hit") {
			t.Errorf("%q: %d hits, Cache-Status %q", fields, got, fast[0].cacheStatus())
		}
		if fast[0].body != slow[0].body {
			t.Errorf("%q: fast path served %q, net/http %q", fields, fast[0].body, slow[0].body)
		}
	}
}

// FuzzVariantRaw checks the fast path's Vary values against the full
// handler's: for the fields of a head the fast reader accepts, and the
// Vary fields named, appendVariantRaw equals variantValues over the header
// http.ReadRequest reads.
func FuzzVariantRaw(f *testing.F) {
	f.Add("Accept-Encoding: gzip\r\naccept-encoding: br , x\r\n", "Accept-Encoding")
	f.Add("X-A: \r\nX-B: ,,a,\r\n", "X-A,X-B,X-C")
	f.Add("Connection: close\r\nCookie: a=b\r\n", "Connection,Cookie,Host")
	f.Fuzz(func(t *testing.T, fields, vary string) {
		in := "GET / HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n"
		var req h1Request
		if _, v := parseH1Request([]byte(in), &req); v != h1Fast {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("net/http refuses %q: %v", in, err)
		}
		names := varyFields(http.Header{"Vary": {vary}})
		if got, want := string(appendVariantRaw(nil, names, &req)), variantValues(names, r.Header); got != want {
			t.Fatalf("fields %q, Vary %q: fast path %q, handler %q", fields, vary, got, want)
		}
	})
}

// TestFastHitAllocatesNothing guards the goal of 0 allocations per hit,
// for an object without Vary and for a Vary variant.
func TestFastHitAllocatesNothing(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/vary" {
			w.Header().Set("Vary", "Accept-Encoding")
		}
		_, _ = io.WriteString(w, strings.Repeat("a", 1<<10))
	})
	for _, c := range []struct{ path, head string }{
		{"/plain", "GET /plain HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n"},
		{"/vary", "GET /vary HTTP/1.1\r\nHost: www.example.com\r\nAccept-Encoding: gzip, br\r\n\r\n"},
	} {
		e.get(c.path, "Accept-Encoding", "gzip, br")
		conn := &h1conn{out: make([]byte, 0, 4<<10), key: make([]byte, 0, 256), variant: make([]byte, 0, 64)}
		var req h1Request
		if _, v := parseH1Request([]byte(c.head), &req); v != h1Fast {
			t.Fatalf("%s: %v", c.path, v)
		}
		allocs := testing.AllocsPerRun(100, func() {
			conn.out = conn.out[:0]
			if !e.proxy.serveFastHit(conn, &req) {
				t.Fatalf("%s: not a fast hit", c.path)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per hit, want 0", c.path, allocs)
		}
	}
}
