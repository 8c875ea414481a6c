package cacheproxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkLargeHit is BenchmarkServe's fast path for the large hits of
// the data path benchmark (hit-100k-hot, hit-1m-hot): 100 KiB and 1 MiB
// bodies over loopback, 16 connections. cpu-ns/op is the process's CPU
// per hit, the client's reading included (the same in every variant).
func BenchmarkLargeHit(b *testing.B) {
	for _, size := range []int{100 << 10, 1 << 20} {
		p := newBenchProxy(b, newCannedOrigin(size), 256<<20)
		p.ServeHTTP(&benchWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "http://www.example.com/hot", nil))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ln := serveBenchFront(b, p, "fast")
			req := []byte("GET /hot HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.SetParallelism(8)
			cpu0 := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) { sendOnOneConn(b, pb, ln.Addr().String(), req, size) })
			b.StopTimer()
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
