package cacheproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Benchmarks. The handler-level ones call ServeHTTP with a minimal
// ResponseWriter, so they measure the proxy, not the loopback network; the
// HTTP ones go through real sockets. Misses use an in-memory origin
// (cannedOrigin) so the figure is the proxy's own cost of a miss.

// benchWriter is a ResponseWriter that discards the body.
type benchWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// Flush and SetWriteDeadline are what a miss's writer asks of net/http's
// (through http.ResponseController); without them each call would cost
// an error value.
func (w *benchWriter) Flush()                           {}
func (w *benchWriter) SetWriteDeadline(time.Time) error { return nil }

// cannedOrigin answers every request at once with the same response, the
// way a fast origin would, including typical headers.
type cannedOrigin struct {
	body   []byte
	header http.Header
	calls  atomic.Int64
}

func newCannedOrigin(size int) *cannedOrigin {
	return &cannedOrigin{
		body: bytes.Repeat([]byte("x"), size),
		header: http.Header{
			"Content-Type":  {"text/html; charset=utf-8"},
			"Cache-Control": {"public, max-age=3600"},
			"Etag":          {`"5f3a-17c2b"`},
			"Last-Modified": {"Thu, 01 Jan 2026 00:00:00 GMT"},
			"Date":          {time.Now().UTC().Format(http.TimeFormat)},
		},
	}
}

func (o *cannedOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	o.calls.Add(1)
	h := o.header.Clone()
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(o.body)), ContentLength: int64(len(o.body)), Request: r,
	}, nil
}

func newBenchProxy(b *testing.B, origin http.RoundTripper, cacheSize int64) *Proxy {
	b.Helper()
	u, _ := url.Parse("http://origin.invalid")
	p, err := New(Config{Origin: u, Transport: origin, CacheSize: cacheSize, Logger: slog.New(slog.DiscardHandler), AdminToken: "t"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

func BenchmarkHit(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("handler/%dKiB", size>>10), func(b *testing.B) {
			p := newBenchProxy(b, newCannedOrigin(size), 256<<20)
			const paths = 64
			for i := range paths {
				p.ServeHTTP(&benchWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "http://www.example.com/p"+strconv.Itoa(i), nil))
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				reqs := make([]*http.Request, paths)
				for i := range reqs {
					reqs[i] = httptest.NewRequest(http.MethodGet, "http://www.example.com/p"+strconv.Itoa(i), nil)
				}
				w := &benchWriter{h: make(http.Header, 16)}
				i := 0
				for pb.Next() {
					clear(w.h)
					p.ServeHTTP(w, reqs[i%paths])
					i++
					if w.code != 200 {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		})
		b.Run(fmt.Sprintf("http/%dKiB", size>>10), func(b *testing.B) {
			p := newBenchProxy(b, newCannedOrigin(size), 256<<20)
			srv := httptest.NewServer(p)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			get := func() {
				resp, err := client.Get(srv.URL + "/hot")
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
			get()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get()
				}
			})
		})
	}
}

// BenchmarkMiss calls ServeHTTP for a new URL each time (the whole miss:
// lookup, flight, fill, store, the answer streamed to the client) with the
// origin as a canned RoundTripper (Config.Transport, "canned": the proxy's
// own cost without the origin exchange), and over loopback TCP to an
// origin that answers from a pre-formatted response ("loopback": the
// proxy's origin client included; the origin allocates nothing).
func BenchmarkMiss(b *testing.B) {
	b.Run("canned", func(b *testing.B) {
		origin := newCannedOrigin(1 << 10)
		benchMisses(b, newBenchProxy(b, origin, 256<<20), origin.calls.Load)
	})
	b.Run("loopback", func(b *testing.B) {
		origin := newRawOrigin(b, 1<<10)
		u, _ := url.Parse("http://" + origin.addr)
		p, err := New(Config{Origin: u, CacheSize: 256 << 20, Logger: slog.New(slog.DiscardHandler), AdminToken: "t"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		benchMisses(b, p, origin.calls.Load)
	})
}

func benchMisses(b *testing.B, p *Proxy, originCalls func() int64) {
	var n atomic.Int64
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &benchWriter{h: make(http.Header, 16)}
		for pb.Next() {
			clear(w.h)
			r := httptest.NewRequest(http.MethodGet, "http://www.example.com/m/"+strconv.FormatInt(n.Add(1), 10), nil)
			p.ServeHTTP(w, r)
			if w.code != 200 {
				b.Fatalf("status %d", w.code)
			}
		}
	})
	b.StopTimer()
	if calls := originCalls(); calls != n.Load() {
		b.Fatalf("%d origin calls for %d misses", calls, n.Load())
	}
}

// rawOrigin is an HTTP/1.1 origin on loopback that answers every request
// with the same pre-formatted cacheable response, keeping connections
// alive, and allocates nothing per request: what a benchmark of the
// proxy's origin exchange needs on the other end.
type rawOrigin struct {
	addr  string
	resp  []byte
	calls atomic.Int64
}

func newRawOrigin(b *testing.B, size int) *rawOrigin {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: public, max-age=3600\r\n" +
		"Etag: \"5f3a-17c2b\"\r\nLast-Modified: Thu, 01 Jan 2026 00:00:00 GMT\r\nDate: " + time.Now().UTC().Format(http.TimeFormat) +
		"\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n"
	o := &rawOrigin{addr: ln.Addr().String(), resp: append([]byte(head), bytes.Repeat([]byte("x"), size)...)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.serve(c)
		}
	}()
	return o
}

// serve answers each request head on c (requests have no body).
func (o *rawOrigin) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			o.calls.Add(1)
			if _, err := c.Write(o.resp); err != nil {
				return
			}
			n = copy(buf, buf[i+4:n])
		}
		if n == len(buf) {
			return
		}
	}
}

// bigCache is a store of 1,000,000 small objects shared by the ban
// benchmarks (building it takes a few seconds).
var bigCache struct {
	once sync.Once
	p    *Proxy
	keys []string
}

const bigCacheObjects = 1_000_000

func loadBigCache(b *testing.B) (*Proxy, []string) {
	bigCache.once.Do(func() {
		u, _ := url.Parse("http://origin.invalid")
		p, err := New(Config{Origin: u, CacheSize: 4 << 30, Logger: slog.New(slog.DiscardHandler), BanSweepInterval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UnixNano()
		keys := make([]string, bigCacheObjects)
		hdr := headerList(http.Header{"Content-Type": {"text/html"}, "Cache-Control": {"max-age=3600"}, "Content-Length": {"64"}})
		body := bytes.Repeat([]byte("b"), 64)
		for i := range keys {
			keys[i] = fmt.Sprintf("www.example.com/section%d/page%d.html", i%1000, i)
			o := &object{key: keys[i], status: 200, parts: &objectParts{header: hdr}, body: body, storedAt: now, responseTime: now, lifetime: time.Hour}
			o.seal()
			p.store.insert(o, nil)
		}
		bigCache.p, bigCache.keys = p, keys
	})
	return bigCache.p, bigCache.keys
}

// withBans registers n bans on prefixes that match nothing, stamped after
// every stored object, and undoes them when the benchmark ends.
func withBans(b *testing.B, p *Proxy, n int) {
	at := time.Now().UnixNano()
	for i := range n {
		pat, err := compileBan(fmt.Sprintf("https://www.example.com/nomatch%d/*.css", i))
		if err != nil {
			b.Fatal(err)
		}
		p.bans.add(pat, at)
	}
	b.Cleanup(func() { p.bans.trim(p.bans.headSeq()) })
}

func BenchmarkBan(b *testing.B) {
	p, keys := loadBigCache(b)
	b.Run("register/1M-objects", func(b *testing.B) {
		pat, _ := compileBan("https://www.example.com/section7/")
		at := time.Now().UnixNano()
		b.ReportAllocs()
		for b.Loop() {
			p.bans.add(pat, at)
		}
		b.StopTimer()
		p.bans.trim(p.bans.headSeq())
	})
	b.Run("lookup/1M-objects-no-bans", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if o, _ := p.lookup(keys[r.IntN(len(keys))], nil); o == nil {
					b.Fatal("lost an object")
				}
			}
		})
	})
	b.Run("lookup/1M-objects-100-bans-checked", func(b *testing.B) {
		withBans(b, p, 100)
		for _, k := range keys { // steady state: every object checked once
			p.lookup(k, nil)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if o, _ := p.lookup(keys[r.IntN(len(keys))], nil); o == nil {
					b.Fatal("lost an object")
				}
			}
		})
	})
	b.Run("lookup/1M-objects-100-new-bans", func(b *testing.B) {
		// Worst case: each lookup is the object's first check against 100
		// bans registered since it was stored.
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%len(keys) == 0 {
				b.StopTimer()
				p.bans.trim(p.bans.headSeq())
				withBans(b, p, 100)
				b.StartTimer()
			}
			if o, _ := p.lookup(keys[i%len(keys)], nil); o == nil {
				b.Fatal("lost an object")
			}
			i++
		}
	})
	// Whole ban requests through the admin path: registration plus the
	// read-only pass that counts the matches for the answer. The dry runs
	// count what a ban would match without registering it, so the objects
	// stay for the next iteration.
	for _, c := range []struct {
		name, pattern string
		dryRun        bool
		matched       int64
	}{
		{"invalidate-request/1M-objects-0-matched", "https://www.example.com/section7/nothing-here/", false, 0},
		{"invalidate-request/1M-objects-1000-matched-dry-run", "https://www.example.com/section7/", true, 1000},
		{"invalidate-request/1M-objects-wildcard-1000-matched-dry-run", "https://www.example.com/section7/*.html", true, 1000},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := banRequest(c.pattern)
				req.DryRun = c.dryRun
				res, err := p.invalidate(b.Context(), req)
				if err != nil {
					b.Fatal(err)
				}
				if res.Matched != c.matched {
					b.Fatalf("matched %d, want %d", res.Matched, c.matched)
				}
			}
			b.StopTimer()
			p.bans.trim(p.bans.headSeq())
		})
	}
}

var banSeq atomic.Int64

func banRequest(pattern string) admin.InvalidationRequest {
	return admin.InvalidationRequest{ID: "bench-" + strconv.FormatInt(banSeq.Add(1), 10), Mode: "ban", URLs: []string{pattern}}
}

// BenchmarkMemoryPerObject stores objects through the real miss path and
// reports the heap each one costs next to what the cache charges for it.
func BenchmarkMemoryPerObject(b *testing.B) {
	for _, size := range []int{0, 1 << 10} {
		b.Run(fmt.Sprintf("body=%dB", size), func(b *testing.B) {
			const n = 50_000
			var heapPer, chargedPer float64
			for range b.N {
				b.StopTimer()
				p := newBenchProxy(b, newCannedOrigin(size), 1<<30)
				reqs := make([]*http.Request, n)
				for i := range reqs {
					reqs[i] = httptest.NewRequest(http.MethodGet, "http://www.example.com/objects/item-"+strconv.Itoa(i)+"?v=1", nil)
				}
				w := &benchWriter{h: http.Header{}}
				before := heapInUse()
				b.StartTimer()
				for _, r := range reqs {
					clear(w.h)
					p.ServeHTTP(w, r)
				}
				b.StopTimer()
				after := heapInUse()
				s := p.stats()
				if s.Objects != n {
					b.Fatalf("%d objects stored", s.Objects)
				}
				heapPer = float64(after-before) / n
				chargedPer = float64(s.Bytes) / n
				runtime.KeepAlive(reqs)
				p.Close()
			}
			b.ReportMetric(heapPer, "heap-B/obj")
			b.ReportMetric(chargedPer, "charged-B/obj")
			b.ReportMetric(heapPer-float64(size), "overhead-B/obj")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryBound fills a 64 MiB cache with 4x its size and reports
// the live heap above the bound after a GC: what --cache-size really costs.
func BenchmarkMemoryBound(b *testing.B) {
	const bound = 64 << 20
	for _, size := range []int{512, 10 << 10} {
		b.Run(fmt.Sprintf("objects=%dB", size), func(b *testing.B) {
			var over float64
			for range b.N {
				b.StopTimer()
				base := heapInUse()
				p := newBenchProxy(b, newCannedOrigin(size), bound)
				w := &benchWriter{h: http.Header{}}
				b.StartTimer()
				for i := 0; i < 4*bound/size; i++ {
					clear(w.h)
					p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://www.example.com/f/"+strconv.Itoa(i), nil))
				}
				b.StopTimer()
				live := heapInUse() - base
				if s := p.stats(); s.Bytes > bound {
					b.Fatalf("charged %d > bound %d", s.Bytes, bound)
				}
				over = float64(int64(live)-bound) / (1 << 20)
				p.Close()
			}
			b.ReportMetric(over, "MiB-over-bound")
		})
	}
}

// BenchmarkServe sends hits over real loopback connections with a client
// that allocates nothing (a pre-formatted request, the response read into
// a reused buffer), so allocs/op is the server's: the fast path (Server)
// against plain net/http serving the same Proxy.
func BenchmarkServe(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		p := newBenchProxy(b, newCannedOrigin(size), 256<<20)
		p.ServeHTTP(&benchWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "http://www.example.com/hot", nil))
		for _, front := range []string{"fast", "net-http"} {
			b.Run(fmt.Sprintf("%s/%dKiB", front, size>>10), func(b *testing.B) {
				ln := serveBenchFront(b, p, front)
				req := []byte("GET /hot HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) { sendOnOneConn(b, pb, ln.Addr().String(), req, size) })
			})
		}
	}
}

// sendOnOneConn sends req on one connection to addr and reads each
// response (a body of size bytes at most), until pb ends: a client that
// allocates nothing per request.
func sendOnOneConn(b *testing.B, pb *testing.PB, addr string, req []byte, size int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	buf := make([]byte, size+4096)
	for pb.Next() {
		if err := exchangeRaw(c, req, buf); err != nil {
			b.Error(err)
			return
		}
	}
}

// BenchmarkServeMiss sends 1 KiB misses (a new URL each, a raw
// origin on loopback) over loopback to the fast path, which serves them on its own
// connection through the full handler (h1handler.go), and to plain
// net/http: the server side of a miss, allocations included.
func BenchmarkServeMiss(b *testing.B) {
	for _, front := range []string{"fast", "net-http"} {
		b.Run(front, func(b *testing.B) {
			origin := newRawOrigin(b, 1<<10)
			u, _ := url.Parse("http://" + origin.addr)
			p, err := New(Config{Origin: u, CacheSize: 256 << 20, Logger: slog.New(slog.DiscardHandler), AdminToken: "t"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Close() })
			ln := serveBenchFront(b, p, front)
			var seq atomic.Int64
			b.SetBytes(1 << 10)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				buf, req := make([]byte, 8<<10), make([]byte, 0, 128)
				for pb.Next() {
					req = append(req[:0], "GET /m/"...)
					req = strconv.AppendInt(req, seq.Add(1), 10)
					req = append(req, " HTTP/1.1\r\nHost: www.example.com\r\n\r\n"...)
					if err := exchangeRaw(c, req, buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if calls := origin.calls.Load(); calls != seq.Load() {
				b.Fatalf("%d origin calls for %d misses", calls, seq.Load())
			}
		})
	}
}

// serveBenchFront serves p on a loopback listener through the fast path
// ("fast") or plain net/http, until the benchmark ends.
func serveBenchFront(b *testing.B, p *Proxy, front string) net.Listener {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	if front == "fast" {
		fs := NewServer(p, srv)
		go func() { _ = fs.Serve(ln) }()
		b.Cleanup(func() { fs.Close() })
	} else {
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { srv.Close() })
	}
	return ln
}

// exchangeRaw writes one request on c and reads its response into buf
// (readRawResponse).
func exchangeRaw(c net.Conn, req, buf []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	return readRawResponse(c, buf)
}

// readRawResponse reads one response with a Content-Length from c, using
// buf (large enough for the whole response) and allocating nothing.
func readRawResponse(c net.Conn, buf []byte) error {
	n, headEnd, want := 0, -1, 0
	for headEnd < 0 || n < want {
		m, err := c.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
		if headEnd < 0 {
			if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
				headEnd = i + 4
				j := bytes.Index(buf[:i], []byte("Content-Length: "))
				if j < 0 {
					return errors.New("no Content-Length")
				}
				cl := 0
				for _, d := range buf[j+len("Content-Length: ") : i+2] {
					if d < '0' || d > '9' {
						break
					}
					cl = cl*10 + int(d-'0')
				}
				want = headEnd + cl
			}
		}
	}
	if n != want {
		return fmt.Errorf("read %d bytes, the response has %d", n, want)
	}
	return nil
}
