package cacheproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// TestSlabClasses: every size from 1 to maxSlabBlock gets a class whose
// blocks hold it, wasting less than 16 bytes up to 1 KiB and at most a
// sixteenth above; the classes grow with the size.
func TestSlabClasses(t *testing.T) {
	last := -1
	for n := 1; n <= maxSlabBlock; n++ {
		c := slabClass(n)
		size := slabClassSize(c)
		if c < last || c >= slabClassCount || size < n {
			t.Fatalf("size %d: class %d of %d bytes (previous class %d, %d classes)", n, c, size, last, slabClassCount)
		}
		if waste := size - n; n <= 1<<10 && waste >= 16 || n > 1<<10 && waste > n/16 {
			t.Fatalf("size %d: class %d of %d bytes wastes %d", n, c, size, waste)
		}
		last = c
	}
	if slabClassSize(slabClassCount-1) != maxSlabBlock {
		t.Errorf("the largest class holds %d bytes, want %d", slabClassSize(slabClassCount-1), maxSlabBlock)
	}
	for _, n := range []int{0, -1, maxSlabBlock + 1} {
		if _, _, ok := slabs.alloc(n); ok {
			t.Errorf("alloc(%d) succeeded", n)
		}
	}
}

// TestSlabReusesFreedBlocks: a freed block is the next one of its class
// handed out.
func TestSlabReusesFreedBlocks(t *testing.T) {
	pool := &slabPool{classes: make([]slabFree, slabClassCount)}
	a, blk, ok := pool.alloc(300)
	if !ok || len(a) != 300 || cap(a) != 300 {
		t.Fatalf("alloc(300): %d bytes, capacity %d, ok %v", len(a), cap(a), ok)
	}
	copy(a, strings.Repeat("a", 300))
	pool.free(blk)
	b, _, _ := pool.alloc(290) // the same class
	if &b[0] != &a[0] {
		t.Errorf("a freed block was not reused")
	}
	if pool.inUse.Load() != int64(slabClassSize(slabClass(290))) || pool.mapped.Load() != slabChunk {
		t.Errorf("in use %d, mapped %d", pool.inUse.Load(), pool.mapped.Load())
	}
}

// TestSlabHugeChunks: a class's first hugeAfter bytes come in 1 MiB
// chunks, the next in huge pages: 2 MiB, aligned, advised MADV_HUGEPAGE
// where the kernel has transparent huge pages (the mapping's VmFlags in
// /proc/self/smaps say "hg"), and blocks carved from them hold what is
// written to them.
func TestSlabHugeChunks(t *testing.T) {
	pool := &slabPool{classes: make([]slabFree, slabClassCount)}
	const size = 1 << 10
	var first []byte
	for pool.mapped.Load() <= hugeAfter {
		b, _, ok := pool.alloc(size)
		if !ok {
			t.Fatal("alloc failed")
		}
		first = b
	}
	if got := pool.mapped.Load(); got != hugeAfter+hugePage {
		t.Fatalf("mapped %d bytes, want %d 1 MiB chunks and a huge page", got, hugeAfter/slabChunk)
	}
	addr := uintptr(unsafe.Pointer(&first[0]))
	if addr%hugePage != 0 {
		t.Fatalf("the first block of the huge chunk is at %#x, not aligned to 2 MiB", addr)
	}
	want := bytes.Repeat([]byte("h"), size)
	for range hugePage / size {
		b, _, _ := pool.alloc(size)
		if uintptr(unsafe.Pointer(&b[0]))-addr >= hugePage {
			break // the next chunk
		}
		copy(b, want)
	}
	copy(first, want)
	if !bytes.Equal(first, want) {
		t.Error("a block of the huge chunk does not hold what was written")
	}
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(thp, []byte("[never]")) {
		t.Skipf("no transparent huge pages here (%q, %v): the chunk keeps 4 KiB pages", thp, err)
	}
	flags, huge := mappingOf(t, addr)
	if !slices.Contains(flags, "hg") {
		t.Errorf("the huge chunk's mapping is not advised MADV_HUGEPAGE: VmFlags %v", flags)
	}
	t.Logf("AnonHugePages of the chunk's mapping: %s", huge)
}

// mappingOf returns the VmFlags and the AnonHugePages line of the mapping
// holding addr, from /proc/self/smaps.
func mappingOf(t *testing.T, addr uintptr) (flags []string, anonHuge string) {
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for line := range strings.Lines(string(smaps)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		switch {
		case in && f[0] == "AnonHugePages:":
			anonHuge = strings.Join(f[1:], " ")
		case in && f[0] == "VmFlags:":
			return f[1:], anonHuge
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil, ""
}

// TestHitsNeverSendAnotherObjectsBytes tries hard to make a hit send bytes
// of a block that was freed and handed to another object: a cache far too
// small for its URLs (every fill evicts), purges, collections running back
// to back (each frees the blocks of the objects nobody holds any more, and
// the next fills take them), and clients on the fast path and on net/http
// checking every body they get against the one its URL has. Bodies are
// 1 byte to 16 KiB, so both the copied and the written-from-the-block
// bodies of the fast path are exercised. Run it with -race too.
func TestHitsNeverSendAnotherObjectsBytes(t *testing.T) {
	const urls = 400
	body := func(n int) []byte {
		size := 1 + n*7919%(maxPackedBody)
		return bytes.Repeat([]byte(strconv.Itoa(n)+"|"), size)[:size]
	}
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/o/"))
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Surrogate-Key", "g"+strconv.Itoa(n%10))
		_, _ = w.Write(body(n))
	}, func(c *Config) { c.CacheSize = 256 << 10 })

	requests := 500
	if raceEnabled {
		requests = 400
	}
	reusedBefore := slabs.reused.Load()
	var hits atomic.Int64
	errs := make(chan error, 16)
	var clients, background sync.WaitGroup
	done := make(chan struct{})
	client := func(base string, seed uint64, header ...string) {
		defer clients.Done()
		r := rand.New(rand.NewPCG(seed, 1))
		for range requests {
			n := r.IntN(urls)
			if n >= urls/2 {
				n = r.IntN(20) // a hot set, so some objects stay stored long enough to be hit
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/o/"+strconv.Itoa(n), nil)
			req.Host = "www.example.com"
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := e.transport.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			switch {
			case err != nil:
				errs <- err
				return
			case resp.StatusCode != http.StatusOK:
				errs <- fmt.Errorf("/o/%d: %s", n, resp.Status)
				return
			case !bytes.Equal(got, body(n)):
				errs <- fmt.Errorf("/o/%d (%s): a body of %d bytes that is not its own: %.40q…",
					n, resp.Header.Get("Cache-Status"), len(got), got)
				return
			}
			if strings.HasPrefix(resp.Header.Get("Cache-Status"), "cacheproxy; hit") {
				hits.Add(1)
			}
		}
	}
	for i := range 4 {
		clients.Add(1)
		go client(e.front.URL, uint64(i))
	}
	clients.Add(2)
	go client(e.plain.URL, 10)
	go client(e.front.URL, 11, "If-None-Match", `"other"`) // handed to net/http, served whole by serveObject
	background.Add(2)
	go func() { // collections back to back: blocks freed as soon as they can be
		defer background.Done()
		for {
			select {
			case <-done:
				return
			default:
				runtime.GC()
			}
		}
	}()
	go func() { // purges of single objects and of tags
		defer background.Done()
		r := rand.New(rand.NewPCG(99, 1))
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			req := admin.InvalidationRequest{ID: "p" + strconv.Itoa(i), Mode: admin.ModeSimple, URLs: []string{site + "/o/" + strconv.Itoa(r.IntN(20))}}
			if i%5 == 0 {
				req = admin.InvalidationRequest{ID: "p" + strconv.Itoa(i), Mode: admin.ModeSimple, Tags: []string{"g" + strconv.Itoa(r.IntN(10))}}
			}
			if _, err := e.client.Invalidate(t.Context(), e.admin.URL, req); err != nil {
				errs <- err
				return
			}
		}
	}()
	clients.Wait()
	close(done)
	background.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reused := slabs.reused.Load() - reusedBefore
	t.Logf("%d hits; %d blocks reused", hits.Load(), reused)
	if hits.Load() < int64(requests) || reused < 100 {
		t.Errorf("%d hits and %d blocks reused: the test did not exercise what it is for", hits.Load(), reused)
	}
}
