package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A 100 MiB object served to 100 clients at once is one copy in memory,
// not 100: the fill's coalesced readers share its stream, and hits share
// the stored body (the fast path writes it from where it is stored).
// --max-object-size lets such an object in (the default keeps bodies over
// cache-size/8, at most 64 MiB, out).

const (
	largeObject  = 100 << 20
	largeClients = 100
	// largeOverhead is what the process may grow by beyond one copy of the
	// object: the clients' and the origin's buffers (the test shares the
	// process), the fill's and the connections' buffers, the runtime.
	largeOverhead = 64 << 20
)

// largeChunk is what the origin repeats to make the large object, so the
// test holds no copy of its own.
var largeChunk = bytes.Repeat([]byte("0123456789abcdef"), 4096)

func TestLargeObjectOneCopyForHundredClients(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100 clients 100 MiB each, twice")
	}
	size := largeObject
	if raceEnabled {
		size = 8 << 20 // the race detector's shadow memory makes RSS meaningless; check the rest
	}
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for sent := 0; sent < size; sent += len(largeChunk) {
			if _, err := w.Write(largeChunk[:min(len(largeChunk), size-sent)]); err != nil {
				return
			}
		}
	}))
	t.Cleanup(origin.Close)

	debug.FreeOSMemory() // what tests before this one left
	before := rss(t)
	pub := startProxy(t, origin.URL, "--cache-size=256Mi", "--max-object-size=128Mi")
	peak, stopSampling := sampleRSS()

	// Round 1: the 100 clients ask at once, and wait for each other after
	// the first chunk, so every answer is in flight together: one fill,
	// its stream shared. Round 2: the same, all hits on the stored body.
	for round, want := range []string{"", "cacheproxy; hit"} {
		var started, wg sync.WaitGroup
		started.Add(largeClients)
		errs := make(chan error, largeClients)
		statuses := make(chan string, largeClients)
		for range largeClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cs, err := getLarge(pub, size, started.Done, started.Wait)
				if err != nil {
					errs <- err
					return
				}
				statuses <- cs
			}()
		}
		wg.Wait()
		close(errs)
		close(statuses)
		for err := range errs {
			t.Fatalf("round %d: %v", round+1, err)
		}
		for cs := range statuses {
			if want != "" && !strings.HasPrefix(cs, want) {
				t.Errorf("round %d: Cache-Status %q, want %s", round+1, cs, want)
			}
		}
	}
	stopSampling()
	if n := fetches.Load(); n != 1 {
		t.Errorf("the origin was asked %d times, want once", n)
	}
	grew := peak() - before
	t.Logf("%d clients read a %d MiB object twice (a coalesced fill, then hits); peak RSS %d MiB above the %d MiB before start (bound %d MiB)",
		largeClients, size>>20, grew>>20, before>>20, (largeObject+largeOverhead)>>20)
	if !raceEnabled && grew > largeObject+largeOverhead {
		t.Errorf("RSS grew by %d MiB, bound one copy and %d MiB", grew>>20, largeOverhead>>20)
	}
}

// getLarge GETs /large on a connection of its own, reads the first chunk
// of the body, calls arrived and then wait, reads and checks the rest, and
// returns the answer's Cache-Status.
func getLarge(addr string, size int, arrived, wait func()) (string, error) {
	once := sync.OnceFunc(arrived)
	defer once() // a client that failed early must not hold the others
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /large HTTP/1.1\r\nHost: www.example.com\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(size) {
		return "", fmt.Errorf("%s with Content-Length %d, want 200 with %d", resp.Status, resp.ContentLength, size)
	}
	buf := make([]byte, len(largeChunk))
	for read := 0; read < size; {
		n := min(len(buf), size-read)
		if _, err := io.ReadFull(resp.Body, buf[:n]); err != nil {
			return "", fmt.Errorf("body at %d: %w", read, err)
		}
		if !bytes.Equal(buf[:n], largeChunk[:n]) {
			return "", fmt.Errorf("body at %d differs from the origin's", read)
		}
		if read == 0 {
			once()
			wait()
		}
		read += n
	}
	return resp.Header.Get("Cache-Status"), nil
}
