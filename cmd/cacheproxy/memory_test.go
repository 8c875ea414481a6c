package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The memory bound as a user sees it: a cacheproxy started as the
// operator starts it, --cache-size=64Mi and the default --memory-limit,
// filled through its miss path with 2 GiB of objects from 1 KiB to 4 MiB.
// The process's RSS stays within the cache size plus memOverhead, and a
// hot object keeps being served as a hit while the fill evicts around it.

const (
	memCacheSize = 64 << 20
	// memOverhead is what the process may hold beyond --cache-size: the
	// --memory-limit headroom (25% of the cache and 32 MiB, which the
	// garbage collector may use before it works harder), and 32 MiB for
	// the runtime, goroutine stacks, buffers of the fetches in flight, and
	// the test's own origin and clients, which share the process.
	memOverhead = memCacheSize/4 + 32<<20 + 32<<20
)

func TestMemoryBoundFillingTwoGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 2 GiB through the proxy")
	}
	total := int64(2 << 30)
	if raceEnabled {
		total = 256 << 20 // the race detector's shadow memory makes RSS meaningless; check the rest
	}
	sizes := []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	blob := strings.Repeat("0123456789abcdef", (4<<20)/16)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /obj/<size>/<n> answers <size> bytes.
		parts := strings.Split(r.URL.Path, "/")
		size := 1 << 10
		if len(parts) > 2 {
			size, _ = strconv.Atoi(parts[2])
		}
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.WriteString(w, blob[:size])
	}))
	t.Cleanup(origin.Close) // after the proxy's stop, which startProxy registers next

	debug.FreeOSMemory() // what tests before this one left
	before := rss(t)
	pub := startProxy(t, origin.URL, "--cache-size=64Mi")

	peak, stopSampling := sampleRSS()

	// A hot object, requested over one keep-alive connection the whole time.
	hot := &rawClient{addr: pub}
	if _, err := hot.get("/hot"); err != nil {
		t.Fatal(err)
	}
	var hits, hotRequests atomic.Int64
	hotDone := make(chan error, 1)
	stopHot := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopHot:
				hotDone <- nil
				return
			default:
			}
			cs, err := hot.get("/hot")
			if err != nil {
				hotDone <- err
				return
			}
			hotRequests.Add(1)
			if strings.HasPrefix(cs, "cacheproxy; hit") {
				hits.Add(1)
			}
		}
	}()

	// The fill: 8 clients, each on its own connection.
	var sent atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &rawClient{addr: pub}
			for sent.Load() < total {
				i := next.Add(1)
				size := sizes[int(i)%len(sizes)]
				if _, err := c.get(fmt.Sprintf("/obj/%d/%d", size, i)); err != nil {
					errs <- err
					return
				}
				sent.Add(int64(size))
			}
		}()
	}
	wg.Wait()
	close(stopHot)
	if err := <-hotDone; err != nil {
		t.Fatalf("hot object: %v", err)
	}
	stopSampling()
	close(errs)
	for err := range errs {
		t.Fatalf("fill: %v", err)
	}
	grew := peak() - before
	t.Logf("filled %d MiB in %d objects; peak RSS %d MiB above the %d MiB before start (cache %d MiB, bound %d MiB); hot object: %d of %d requests hits",
		sent.Load()>>20, next.Load(), grew>>20, before>>20, memCacheSize>>20, (memCacheSize+memOverhead)>>20, hits.Load(), hotRequests.Load())
	if !raceEnabled && grew > memCacheSize+memOverhead {
		t.Errorf("RSS grew by %d MiB, bound %d MiB", grew>>20, (memCacheSize+memOverhead)>>20)
	}
	if hotRequests.Load() == 0 || hits.Load() < hotRequests.Load()*9/10 {
		t.Errorf("the hot object was a hit in %d of %d requests during the fill, want at least 90%%", hits.Load(), hotRequests.Load())
	}
}

// startProxy runs the program as the operator starts it, in front of
// origin, with args added, until the test ends; it returns the public
// address.
func startProxy(t *testing.T, origin string, args ...string) string {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	signals := make(chan os.Signal, 1)
	addrs := make(chan net.Addr, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- run(append([]string{"--origin=" + origin, "--listen=127.0.0.1:0", "--admin-listen=127.0.0.1:0", "--admin-token-file=" + tokenFile,
			"--shutdown-delay=0s", "--log-level=error"}, args...),
			func(string) string { return "" }, io.Discard, signals, func(p, _ net.Addr) { addrs <- p })
	}()
	select {
	case a := <-addrs:
		t.Cleanup(func() {
			signals <- os.Interrupt
			<-exit
		})
		return a.String()
	case code := <-exit:
		t.Fatalf("exited %d early", code)
		return ""
	}
}

// sampleRSS samples the process's RSS every 10 ms until stop is called;
// peak returns the largest sample.
func sampleRSS() (peak func() int64, stop func()) {
	var highest atomic.Int64
	stopping := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if n, err := readRSS(); err == nil && n > highest.Load() {
				highest.Store(n)
			}
			select {
			case <-stopping:
				return
			case <-tick.C:
			}
		}
	}()
	return highest.Load, func() {
		close(stopping)
		<-stopped
	}
}

// rawClient sends GETs over one keep-alive connection and reads the
// answers whole (so the test's own memory stays small and flat).
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// get returns the Cache-Status of a 200 answer to GET path.
func (c *rawClient) get(path string) (string, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return "", err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	if _, err := io.WriteString(c.conn, "GET "+path+" HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return resp.Header.Get("Cache-Status"), nil
}

// rss is the process's resident set now, or the test fails.
func rss(t *testing.T) int64 {
	t.Helper()
	n, err := readRSS()
	if err != nil {
		t.Skipf("no RSS on this system: %v", err)
	}
	return n
}

// readRSS reads VmRSS from /proc/self/status, in bytes.
func readRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
