package cacheproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// handlerFronts serves h on two ports: the fast path's Server (its handler
// answers every request the fast reader accepts and the cache cannot:
// here all, the cache being empty) and plain net/http.
func handlerFronts(t *testing.T, h http.Handler) (fast, plain string) {
	t.Helper()
	p := newTestProxy(t)
	serve := func(s interface{ Serve(net.Listener) error }, closer func() error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		t.Cleanup(func() {
			_ = closer()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
		return ln.Addr().String()
	}
	quiet := log.New(io.Discard, "", 0)
	fs := NewServer(p, &http.Server{Handler: h, ErrorLog: quiet})
	ps := &http.Server{Handler: h, ErrorLog: quiet}
	return serve(fs, fs.Close), serve(ps, ps.Close)
}

// newTestProxy is a Proxy with an origin nobody answers on (the handlers
// under test never reach it).
func newTestProxy(t *testing.T) *Proxy {
	t.Helper()
	u, _ := url.Parse("http://127.0.0.1:1")
	p, err := New(Config{Origin: u, AdminToken: testToken, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// rawBytes writes in to addr and returns every byte the server sends
// until it closes the connection, with Date values masked.
func rawBytes(t *testing.T, addr, in string) string {
	t.Helper()
	c := dialTest(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, in); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("reading: %v (after %q)", err, got)
	}
	return dateField.ReplaceAllString(string(got), "Date: <date>\r\n")
}

var dateField = regexp.MustCompile(`Date: [^\r\n]*\r\n`)

// TestH1ResponseMatchesNetHTTP: for the same handler calls, the fast
// connection's response writer writes the bytes net/http writes: framing
// (Content-Length set for a short answer, chunked otherwise), sniffed
// Content-Type, Date, Connection: close and closing, HEAD, 1xx, 204 and
// 304, trailers, invalid fields, short and long bodies, handler panics.
// Each request is followed by a pipelined one with Connection: close, so
// whether the connection stays open shows in the bytes.
func TestH1ResponseMatchesNetHTTP(t *testing.T) {
	body := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name    string
		request string // method and extra fields of the first request
		h       func(w http.ResponseWriter, r *http.Request)
	}{
		{"empty", "GET", func(w http.ResponseWriter, r *http.Request) {}},
		{"short, sniffed", "GET", answer("<html>hi</html>")},
		{"typed with length", "GET", answer("hello", "Content-Type", "text/plain", "Content-Length", "5")},
		{"long, chunked", "GET", answer(body(5000))},
		{"at the buffer's size", "GET", answer(body(2048))},
		{"over the buffer, in pieces", "GET", func(w http.ResponseWriter, r *http.Request) {
			for range 5 {
				_, _ = io.WriteString(w, body(700))
			}
		}},
		{"flushed, streamed", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "one")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "two")
			_ = http.NewResponseController(w).Flush()
		}},
		{"flushed before any write", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "later")
		}},
		{"HEAD with a body written", "HEAD", answer("hello")},
		{"HEAD with a length", "HEAD", answer("", "Content-Length", "1234", "Content-Type", "text/plain")},
		{"HEAD, nothing", "HEAD", func(w http.ResponseWriter, r *http.Request) {}},
		{"204 with a length", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.WriteHeader(http.StatusNoContent)
			_, _ = io.WriteString(w, "abc")
		}},
		{"304 with a type", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}},
		{"103 then 200", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "ok")
		}},
		{"handler says close", "GET", answer("bye", "Connection", "close")},
		{"client says close", "GET\r\nConnection: close", answer("bye")},
		{"client says close, handler keep-alive", "GET\r\nConnection: close", answer("bye", "Connection", "keep-alive")},
		{"identity", "GET", answer("raw", "Transfer-Encoding", "identity")},
		{"chunked asked", "GET", answer("raw", "Transfer-Encoding", "chunked")},
		{"length and gzip coding", "GET", answer("raw", "Transfer-Encoding", "gzip", "Content-Length", "3")},
		{"invalid length", "GET", answer("raw", "Content-Length", "abc")},
		{"more than the length", "GET", answer("abc", "Content-Length", "2")},
		{"less than the length", "GET", answer("abc", "Content-Length", "10")},
		{"encoded, not sniffed", "GET", answer("\x1f\x8b", "Content-Encoding", "gzip")},
		{"type nil, not sniffed", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = io.WriteString(w, "<html>")
		}},
		{"fields net/http cleans", "GET", func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["X-Multi"] = []string{"one", "two"}
			h["X-Padded"] = []string{"  a\r\nb \t"}
			h["Bad Name"] = []string{"dropped"}
			h["lower-case"] = []string{"kept as is"}
			h.Set("Date", "Mon, 01 Jan 2024 00:00:00 GMT")
			_, _ = io.WriteString(w, "ok")
		}},
		{"header changed after WriteHeader", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-After", "2")
			_, _ = io.WriteString(w, "ok")
		}},
		{"status without text", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }},
		{"WriteHeader twice", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusAccepted)
		}},
		{"declared trailers", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum, X-Forbidden-Host, Host")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set("Host", "no")
		}},
		{"prefixed trailers", "GET", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		}},
		{"aborted after a flushed part", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "lost in the buffer")
			panic(http.ErrAbortHandler)
		}},
		{"aborted, chunked", "GET", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body(3000))
			panic(http.ErrAbortHandler)
		}},
		{"aborted before writing", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic(http.ErrAbortHandler)
		}},
		{"panicked", "GET", func(w http.ResponseWriter, r *http.Request) { panic("boom") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast, plain := handlerFronts(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/end" {
					_, _ = io.WriteString(w, "end")
					return
				}
				c.h(w, r)
			}))
			method, fields, _ := strings.Cut(c.request, "\r\n")
			if fields != "" {
				fields += "\r\n"
			}
			in := method + " /case HTTP/1.1\r\nHost: www.example.com\r\n" + fields + "\r\n" +
				"GET /end HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
			got, want := rawBytes(t, fast, in), rawBytes(t, plain, in)
			if got != want {
				t.Errorf("fast connection wrote\n%q\nnet/http wrote\n%q", got, want)
			}
		})
	}
}

// answer is a handler that sets the header fields (name, value, ...) and
// writes body, if any.
func answer(body string, fields ...string) func(http.ResponseWriter, *http.Request) {
	if len(fields)%2 != 0 {
		panic(fmt.Sprintf("answer: field %q has no value", fields[len(fields)-1]))
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Set(fields[i], fields[i+1])
		}
		if body != "" {
			_, _ = io.WriteString(w, body)
		}
	}
}

// TestH1RequestAsNetHTTP: the request the fast connection hands the
// handler is the one net/http builds from the same head.
func TestH1RequestAsNetHTTP(t *testing.T) {
	type seen struct {
		method, uri, host, remoteHost, proto string
		header                               http.Header
		close, noBody, hasServer, hasLocal   bool
		contentLength                        int64
	}
	got := make(chan seen, 4)
	fast, plain := handlerFronts(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/end" {
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		got <- seen{
			method: r.Method, uri: r.RequestURI + " " + r.URL.String(), host: r.Host, remoteHost: host, proto: r.Proto,
			header: r.Header, close: r.Close, noBody: r.Body == http.NoBody, contentLength: r.ContentLength,
			hasServer: r.Context().Value(http.ServerContextKey) != nil, hasLocal: r.Context().Value(http.LocalAddrContextKey) != nil,
		}
	}))
	for _, in := range []string{
		"GET /a/b?c=d&e HTTP/1.1\r\nHost: Www.Example.com:8080\r\nuser-agent: x\r\nACCEPT: a\r\nAccept: b\r\nx-custom_name: v  \r\nPragma: no-cache\r\nConnection: close\r\n\r\n",
		"HEAD /#frag HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\nX-Empty:\r\n\r\n",
	} {
		rawBytes(t, fast, in+"GET /end HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		f := <-got
		rawBytes(t, plain, in+"GET /end HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		p := <-got
		if fmt.Sprint(f) != fmt.Sprint(p) {
			t.Errorf("%q:\nfast connection: %+v\nnet/http:        %+v", in, f, p)
		}
	}
}

// TestFastMissOriginDiesMidBody: an origin that dies after part of a
// body: the client gets the part and a closed connection, on the fast
// connection as from net/http, whether the answer had a length or was
// chunked.
func TestFastMissOriginDiesMidBody(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", "100000")
		}
		_, _ = io.WriteString(w, strings.Repeat("p", 70<<10)) // past the header hold (stream.go)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	for _, path := range []string{"/length", "/chunked"} {
		in := "GET " + path + " HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
		got, want := rawBytes(t, addrOf(e.front), in), rawBytes(t, addrOf(e.plain), in)
		// Chunk sizes follow the origin's reads: compare heads and bodies.
		gotHead, gotBody, _ := strings.Cut(got, "\r\n\r\n")
		wantHead, wantBody, _ := strings.Cut(want, "\r\n\r\n")
		if path == "/chunked" {
			gotBody, wantBody = dechunk(gotBody), dechunk(wantBody)
		}
		if gotHead != wantHead || gotBody != wantBody {
			t.Errorf("%s: fast connection wrote\n%q (%d body bytes)\nnet/http\n%q (%d)", path, gotHead, len(gotBody), wantHead, len(wantBody))
		}
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || strings.HasSuffix(got, "0\r\n\r\n") || len(gotBody) < 70<<10 || len(gotBody) >= 100000 {
			t.Errorf("%s: want a 200 cut short, got %d bytes: %q", path, len(got), trimBody(got))
		}
	}
}

// dechunk decodes a chunked body, as far as it goes.
func dechunk(s string) string {
	b, _ := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(s)))
	return string(b)
}

// TestFastMissClientLeaves: a client that closes its connection while its
// miss waits for the origin cancels its request on the fast connection as
// under net/http (the background read), so the origin's request of an
// answer nobody stores or waits for ends; and the connection of a client
// that stays keeps serving after a miss.
func TestFastMissClientLeaves(t *testing.T) {
	entered, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			entered <- struct{}{}
			<-r.Context().Done()
			ended <- struct{}{}
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "answer "+r.URL.Path)
	})
	for name, addr := range e.fronts() {
		c := dialTest(t, addr)
		if _, err := io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		<-entered
		c.Close()
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the origin's request did not end after its only client left", name)
		}
	}
	// Misses, a hit and misses again on one fast connection.
	c := dialTest(t, addrOf(e.front))
	defer c.Close()
	br := bufio.NewReader(c)
	for i, path := range []string{"/a", "/b", "/a", "/c"} {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "answer "+path || resp.Close {
			t.Fatalf("request %d: %q (close %v)", i+1, b, resp.Close)
		}
	}
}

// TestFastMissShutdown: Shutdown waits for a miss being answered on a fast
// connection, which then closes.
func TestFastMissShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "late")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(e.proxy, &http.Server{IdleTimeout: time.Minute})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := dialTest(t, ln.Addr().String())
	defer c.Close()
	if _, err := io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered // the miss is being answered: the connection is not idle
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	close(release)
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(got), "\r\n\r\nlate") {
		t.Errorf("answer during shutdown: %q", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
