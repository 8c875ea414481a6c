package cacheproxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Memory benchmarks with objects as the invalidation benchmark stores them
// (test/bench/origin.go's /small/ objects): 256-byte bodies, the origin's
// header values in strings of their own per response (as net/http's client
// parses them), and three surrogate keys, two shared by every object and
// one by 10,000.

// parsedOrigin answers like cannedOrigin, with fresh header strings per
// response and the bench origin's Surrogate-Key.
type parsedOrigin struct{ *cannedOrigin }

func newParsedOrigin(size int) parsedOrigin { return parsedOrigin{newCannedOrigin(size)} }

func (o parsedOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.cannedOrigin.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	for name, values := range resp.Header {
		for i, v := range values {
			values[i] = strings.Clone(v)
		}
		resp.Header[name] = values
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/small/"))
	resp.Header["Surrogate-Key"] = []string{"all small k" + strconv.Itoa(n/10000)}
	return resp, nil
}

// fillSmall stores n objects /small/0 … /small/n-1 through the miss path.
func fillSmall(tb testing.TB, p *Proxy, n int) {
	tb.Helper()
	w := &benchWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "http://www.example.com/small/0", nil)
	for i := range n {
		clear(w.h)
		r.URL.Path = "/small/" + strconv.Itoa(i)
		r.RequestURI = r.URL.Path
		p.ServeHTTP(w, r)
	}
	if s := p.stats(); s.Objects != int64(n) {
		tb.Fatalf("%d objects stored, want %d", s.Objects, n)
	}
}

// storeSmall stores n objects /small/0 … /small/n-1 as a fill of
// newParsedOrigin's answers would (the header it stores, its tags), faster
// than through the miss path: a million misses take minutes.
func storeSmall(p *Proxy, n int) {
	o := newParsedOrigin(256)
	now := p.now()
	for i := range n {
		path := "/small/" + strconv.Itoa(i)
		resp, _ := o.RoundTrip(httptest.NewRequest(http.MethodGet, "http://www.example.com"+path, nil))
		_ = resp.Body.Close()
		tags := takeTags(resp.Header)
		resp.Header["Content-Length"] = contentLength(len(o.body))
		obj := &object{key: "www.example.com" + path, status: http.StatusOK,
			parts:    &objectParts{header: headerList(resp.Header), tags: tags, etag: resp.Header.Get("Etag"), lastModified: resp.Header.Get("Last-Modified")},
			body:     slices.Clone(o.body),
			storedAt: now, responseTime: now, lifetime: time.Hour}
		obj.seal()
		p.store.insert(obj, nil)
	}
}

// BenchmarkMemoryPerObjectParsed is BenchmarkMemoryPerObject for objects as
// the invalidation benchmark stores them (256-byte bodies, and 1 KiB ones
// as make bench's memory section stores them too): the live heap, the
// slab blocks (slab.go), the runtime's memory outside the heap (other-B:
// cleanup records, specials) and the charge per object. RSS follows the
// heap the collector lets grow before it runs again (GOGC=100: twice the
// live heap) plus the slabs and the runtime's other memory.
func BenchmarkMemoryPerObjectParsed(b *testing.B) {
	for _, size := range []int{256, 1 << 10} {
		b.Run(fmt.Sprintf("body=%dB", size), func(b *testing.B) {
			const n = 100_000
			var heapPer, slabPer, otherPer, chargedPer float64
			for range b.N {
				b.StopTimer()
				p := newBenchProxy(b, newParsedOrigin(size), 1<<30)
				before := heapInUse()
				slabBefore, otherBefore := slabs.inUse.Load(), runtimeOtherBytes()
				b.StartTimer()
				fillSmall(b, p, n)
				b.StopTimer()
				heapPer = float64(heapInUse()-before) / n
				slabPer = float64(slabs.inUse.Load()-slabBefore) / n
				otherPer = float64(runtimeOtherBytes()-otherBefore) / n
				chargedPer = float64(p.stats().Bytes) / n
				p.Close()
			}
			b.ReportMetric(heapPer, "heap-B/obj")
			b.ReportMetric(slabPer, "slab-B/obj")
			b.ReportMetric(otherPer, "other-B/obj")
			b.ReportMetric(chargedPer, "charged-B/obj")
			b.ReportMetric(2*heapPer+slabPer+otherPer, "rss-gogc100-B/obj")
		})
	}
}

// runtimeOtherBytes is the runtime's memory that is neither heap nor
// stacks: its metadata and the fixed-size records (among them those of
// runtime.AddCleanup) it allocates outside the heap.
func runtimeOtherBytes() int64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/other:bytes"}, {Name: "/memory/classes/metadata/other:bytes"}}
	rtmetrics.Read(s)
	return int64(s[0].Value.Uint64() + s[1].Value.Uint64())
}

// BenchmarkHitDuringGC fills a cache with a million 256-byte objects, then
// sends fast-path hits on random ones over loopback connections (the
// client allocates nothing), first with no collection running, then with
// full collections running back to back: the second figure over the first
// is what a collection over a million objects costs hits while it runs.
// gc-ms is the duration of one forced full collection.
func BenchmarkHitDuringGC(b *testing.B) {
	const n = 1_000_000
	p := newBenchProxy(b, newParsedOrigin(256), 4<<30)
	storeSmall(p, n)
	start := time.Now()
	runtime.GC()
	gcTime := time.Since(start)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fs := NewServer(p, &http.Server{Handler: p})
	go func() { _ = fs.Serve(ln) }()
	defer fs.Close()
	for _, gc := range []string{"idle", "running"} {
		b.Run("gc="+gc, func(b *testing.B) {
			stop, done := make(chan struct{}), make(chan struct{})
			cycles := 0
			go func() {
				defer close(done)
				for gc == "running" {
					select {
					case <-stop:
						return
					default:
						runtime.GC()
						cycles++
					}
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				reqs := make([][]byte, 4096)
				for i := range reqs {
					reqs[i] = fmt.Appendf(nil, "GET /small/%d HTTP/1.1\r\nHost: www.example.com\r\n\r\n", rand.IntN(n))
				}
				buf := make([]byte, 4096)
				for i := 0; pb.Next(); i++ {
					if err := exchangeRaw(c, reqs[i%len(reqs)], buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			close(stop)
			<-done
			if misses := p.metrics.requests[outcomeMiss].Load(); misses != 0 {
				b.Errorf("%d misses: every request should hit", misses)
			}
			if hits := p.metrics.requests[outcomeHit].Load(); hits < int64(b.N) {
				b.Errorf("%d hits for %d requests", hits, b.N)
			}
			b.ReportMetric(float64(gcTime.Microseconds())/1000, "gc-ms")
			b.ReportMetric(float64(cycles), "gc-cycles")
		})
	}
}

// BenchmarkMissBesideStoredObjects is the CPU a miss costs, collections
// included, with 300,000 objects stored (objects as the invalidation
// benchmark stores them), at GOGC 100 (headroom 0) and as TuneGC sets it
// with a headroom of 64 MiB and of 32 MiB: what the smaller RSS of a tuned
// collector costs misses. cpu-us/op is the process's user and system time
// per miss, gc-cpu-us/op the runtime's estimate of the collector's share
// (on a loaded machine, the wall time of its workers).
func BenchmarkMissBesideStoredObjects(b *testing.B) {
	p := newBenchProxy(b, newCannedOrigin(1<<10), 4<<30)
	storeSmall(p, 300_000)
	for _, headroom := range []int64{0, 64 << 20, 32 << 20} {
		b.Run(fmt.Sprintf("headroom=%dMiB", headroom>>20), func(b *testing.B) {
			defer tuneGCFor(b, headroom)()
			runtime.GC()
			var n atomic.Int64
			w := &benchWriter{h: make(http.Header, 16)}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			cycles := ms.NumGC
			cpu, gcCPU := processCPU(), gcCPUSeconds()
			b.ResetTimer()
			for range b.N {
				clear(w.h)
				r := httptest.NewRequest(http.MethodGet, "http://www.example.com/m/"+strconv.FormatInt(n.Add(1), 10), nil)
				p.ServeHTTP(w, r)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu)/1e3/float64(b.N), "cpu-us/op")
			b.ReportMetric((gcCPUSeconds()-gcCPU)*1e6/float64(b.N), "gc-cpu-us/op")
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.NumGC-cycles), "gc-cycles")
			b.ReportMetric(float64(gogc()), "gogc")
		})
	}
}

// tuneGCFor runs TuneGC with headroom (nothing when 0) until the returned
// function is called, which restores the GC percentage.
func tuneGCFor(b *testing.B, headroom int64) (stop func()) {
	if headroom == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		TuneGC(ctx, headroom, 10*time.Millisecond)
	}()
	return func() {
		cancel()
		<-done
	}
}

// gcCPUSeconds is the runtime's estimate of the CPU time the collector took
// so far.
func gcCPUSeconds() float64 {
	s := []rtmetrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	rtmetrics.Read(s)
	return s[0].Value.Float64()
}

// BenchmarkPurgeBesideStoredObjects times what make bench's invalidation
// run times, in process: 1,000 single-URL purges one after another and a
// tag purge of 10,000 objects, with 300,000 objects stored, at GOGC 100
// (headroom 0) and as TuneGC sets it with a headroom of 64 MiB: what the
// smaller RSS of a tuned collector costs purges. Each op is one purge.
func BenchmarkPurgeBesideStoredObjects(b *testing.B) {
	const stored = 300_000
	for _, headroom := range []int64{0, 64 << 20} {
		b.Run(fmt.Sprintf("headroom=%dMiB", headroom>>20), func(b *testing.B) {
			p := newBenchProxy(b, newParsedOrigin(256), 4<<30)
			storeSmall(p, stored)
			defer tuneGCFor(b, headroom)()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			cycles := ms.NumGC
			gcCPU := gcCPUSeconds()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				req := admin.InvalidationRequest{ID: "u" + strconv.Itoa(i), Mode: admin.ModeSimple,
					URLs: []string{"https://www.example.com/small/" + strconv.Itoa(100_000+i%100_000)}}
				if _, err := p.invalidate(b.Context(), req); err != nil {
					b.Fatal(err)
				}
			}
			purges := time.Since(start)
			tagPurge := func(tag string) time.Duration {
				start := time.Now()
				res, err := p.invalidate(b.Context(), admin.InvalidationRequest{ID: tag, Mode: admin.ModeSimple, Tags: []string{tag}})
				if err != nil || res.Invalidated != 10_000 {
					b.Fatalf("tag purge: %d invalidated, error %v", res.Invalidated, err)
				}
				return time.Since(start)
			}
			tag := tagPurge("k25")
			// A tag purge while a collection runs: what it allocates is
			// paid for in mark assists.
			gcDone := make(chan struct{})
			go func() {
				defer close(gcDone)
				runtime.GC()
			}()
			tagDuringGC := tagPurge("k26")
			<-gcDone
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(purges.Microseconds())/float64(b.N), "us/purge")
			b.ReportMetric(float64(tag.Microseconds())/1000, "tag-ms")
			b.ReportMetric(float64(tagDuringGC.Microseconds())/1000, "tag-during-gc-ms")
			b.ReportMetric(float64(ms.NumGC-cycles), "gc-cycles")
			b.ReportMetric(gcCPUSeconds()-gcCPU, "gc-cpu-s")
			b.ReportMetric(float64(gogc()), "gogc")
		})
	}
}
