package cacheproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// fakeClock is the injected clock of the tests: time moves only when told.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testOrigin is a real HTTP origin whose handler can change during a test.
type testOrigin struct {
	*httptest.Server
	clock    *fakeClock
	requests atomic.Int64
	handler  atomic.Pointer[http.HandlerFunc]
	// mu guards last.
	mu   sync.Mutex
	last *http.Request
}

func (o *testOrigin) set(h http.HandlerFunc) { o.handler.Store(&h) }

func (o *testOrigin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// env is a proxy in front of a test origin, both on real listeners.
type env struct {
	t      *testing.T
	clock  *fakeClock
	origin *testOrigin
	proxy  *Proxy
	front  *httptest.Server // the fast path in front of net/http, as cmd/cacheproxy serves
	plain  *httptest.Server // net/http alone (--fast-path=false)
	admin  *httptest.Server
	client *admin.Client
	// transport sends client requests as a plain client would: no
	// automatic Accept-Encoding.
	transport *http.Transport
}

const testToken = "test-token"

// newEnv starts an origin answering with h, and a proxy in front of it.
func newEnv(t *testing.T, h http.HandlerFunc, configure ...func(*Config)) *env {
	t.Helper()
	clock := newFakeClock()
	o := &testOrigin{clock: clock}
	o.set(h)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		o.last = r.Clone(context.Background())
		o.mu.Unlock()
		// The origin's Date follows the test clock, so ages add up.
		w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		(*o.handler.Load())(w, r)
	}))
	t.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	cfg := Config{
		Origin:     u,
		Now:        clock.Now,
		AdminToken: testToken,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Shards:     8,
	}
	for _, c := range configure {
		c(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	front, plain := newFront(t, p, true), newFront(t, p, false)
	adm := httptest.NewServer(p.AdminHandler())
	t.Cleanup(adm.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &env{transport: tr, t: t, clock: clock, origin: o, proxy: p, front: front, plain: plain, admin: adm, client: &admin.Client{Token: testToken}}
}

// newFront serves p's public port as cmd/cacheproxy does: with fastPath,
// the fast path (Server) in front of net/http, else net/http alone
// (--fast-path=false). Every test through env.front goes through both.
func newFront(t *testing.T, p *Proxy, fastPath bool) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &httptest.Server{Listener: ln, Config: &http.Server{Handler: p}, URL: "http://" + ln.Addr().String()}
	srv := NewServer(p, front.Config)
	srv.DisableFastPath = !fastPath
	serveUntilCleanup(t, srv, ln)
	return front
}

// serveUntilCleanup serves ln with srv until the test ends, and checks
// that Serve then returns http.ErrServerClosed.
func serveUntilCleanup(t *testing.T, srv *Server, ln net.Listener) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}

// fronts returns the addresses of both ways of serving the public port.
func (e *env) fronts() map[string]string {
	return map[string]string{"fast path": addrOf(e.front), "net/http": addrOf(e.plain)}
}

// response is what a client got.
type response struct {
	status int
	header http.Header
	body   string
	close  bool // the server announced it closes the connection (rawExchange)
}

func (r response) cacheStatus() string { return r.header.Get("Cache-Status") }

// do sends a request to the proxy's public port for host "www.example.com".
func (e *env) do(method, path string, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.front.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = "www.example.com"
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.transport.RoundTrip(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (e *env) get(path string, header ...string) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, header...)
}

// getAllAtOnce sends n concurrent GETs of path, the i-th with the header
// pairs header(i) returns (none if header is nil), waits until every one of
// them has reached the proxy's handler, then closes release (which the
// test's origin blocks on) and returns the n responses.
func (e *env) getAllAtOnce(path string, n int, release chan struct{}, header func(i int) []string) []response {
	entered := make(chan struct{}, n)
	front := e.front.Config.Handler
	e.front.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		front.ServeHTTP(w, r)
	})
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h []string
			if header != nil {
				h = header(i)
			}
			results[i] = e.get(path, h...)
		}()
	}
	for range n {
		<-entered
	}
	close(release)
	wg.Wait()
	return results
}

// invalidate calls the admin API through the operator's client.
func (e *env) invalidate(req admin.InvalidationRequest) admin.InvalidationResult {
	e.t.Helper()
	res, err := e.client.Invalidate(context.Background(), e.admin.URL, req)
	if err != nil {
		e.t.Fatalf("Invalidate(%+v): %v", req, err)
	}
	return res
}

// postAdmin posts a raw body to the admin API.
func (e *env) postAdmin(path, token string, body []byte) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.admin.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var er admin.ErrorResponse
	_ = json.Unmarshal(data, &er)
	if er.Error != "" {
		return resp.StatusCode, er.Error
	}
	return resp.StatusCode, string(data)
}

// fixed answers every request with body and the given header pairs.
func fixed(body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		_, _ = io.WriteString(w, body)
	}
}

// counting answers with the path and a counter, so refreshed content differs.
func counting(header ...string) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		_, _ = io.WriteString(w, r.URL.RequestURI()+" #"+itoa(n.Add(1)))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func wantStatus(t *testing.T, r response, status int, cacheStatusPrefix string) {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.cacheStatus(), cacheStatusPrefix) {
		t.Fatalf("got %d %q (body %q), want %d with Cache-Status starting %q", r.status, r.cacheStatus(), r.body, status, cacheStatusPrefix)
	}
}
