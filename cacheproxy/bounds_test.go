package cacheproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestMemoryBoundUnderConcurrentLargeMisses: 40 clients miss 40 distinct
// 4 MiB objects at once with a 16 MiB cache (red team F6: 100 such misses
// took a 64 MiB cache to 414 MiB). With every fetch halfway through its
// body, the heap the proxy holds stays within the cache size plus 8 MiB;
// fetches that found no room stream their answer without storing it.
func TestMemoryBoundUnderConcurrentLargeMisses(t *testing.T) {
	const (
		n         = 40
		size      = 4 << 20
		cacheSize = 16 << 20
		overhead  = 8 << 20
	)
	body := strings.Repeat("m", size)
	var halfway sync.WaitGroup
	halfway.Add(n)
	release := make(chan struct{})
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.WriteString(w, body[:size/4])
		w.(http.Flusher).Flush()
		halfway.Done()
		<-release
		_, _ = io.WriteString(w, body[size/4:])
	}, func(c *Config) { c.CacheSize = cacheSize; c.MaxObjectSize = size })
	before := heapAlloc()
	got := make(chan int64, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/big/%d", e.front.URL, i), nil)
			req.Host = "www.example.com"
			resp, err := e.transport.RoundTrip(req)
			if err != nil {
				got <- -1
				return
			}
			defer resp.Body.Close()
			m, _ := io.Copy(io.Discard, resp.Body)
			got <- m
		}()
	}
	halfway.Wait()
	during := heapAlloc() - before
	close(release)
	for range n {
		if m := <-got; m != size {
			t.Fatalf("a client got %d bytes, want %d", m, size)
		}
	}
	t.Logf("heap growth with %d concurrent %d MiB misses in flight: %.1f MiB (cache %d MiB, bound %d MiB)",
		n, size>>20, float64(during)/(1<<20), cacheSize>>20, (cacheSize+overhead)>>20)
	if during > cacheSize+overhead {
		t.Fatalf("heap grew by %d MiB with the misses in flight, bound %d MiB", during>>20, (cacheSize+overhead)>>20)
	}
	if s := e.proxy.Stats(); s.Bytes > s.MaxBytes || s.Objects == 0 {
		t.Fatalf("after the misses: %+v, want some objects within the bound", s)
	}
}

// heapAlloc is the live heap after a collection.
func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestHalfClosedClientGetsNoEmptyOK: a client that shuts down its sending
// side after a request (which net/http cannot tell from leaving) gets the
// whole answer or none, never an empty 200 (red team F4), for a miss and
// for a POST.
func TestHalfClosedClientGetsNoEmptyOK(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // net/http notices a closed connection only once the body is read
		<-r.Context().Done()               // the proxy gives up on the client's behalf
	})
	addr := strings.TrimPrefix(e.front.URL, "http://")
	for _, req := range []string{
		"GET /hc HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"POST /hc HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 1\r\n\r\nx",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(conn)
		conn.Close()
		if len(got) > 0 {
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(got))), nil)
			if err == nil {
				resp.Body.Close()
			}
			if err == nil && resp.StatusCode == http.StatusOK && resp.ContentLength == 0 {
				t.Fatalf("%q: a half-closed client got an empty 200:\n%s", strings.Fields(req)[0], got)
			}
		}
	}
}
