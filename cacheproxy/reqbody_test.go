package cacheproxy

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSlowRequestBody: a client that sends its body too slowly, or stops,
// gets 408 and a closed connection after RequestBodyTimeout, on both
// server paths; a body the proxy buffers (up to 64 KiB) never reaches the
// origin, and a streamed one is cut, which ends the origin's request
// (red team C5: such clients held 100 origin connections for as long as
// they liked).
func TestSlowRequestBody(t *testing.T) {
	originDone := make(chan error, 1)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		originDone <- err
	}, func(c *Config) { c.RequestBodyTimeout = 300 * time.Millisecond })
	big := strings.Repeat("b", 100<<10)
	tests := []struct {
		name, head, body string
		streamed         bool // the origin is asked before the body stalls
	}{
		{"small body, stalled", "Content-Length: 1000", "0123456789", false},
		{"chunked, stalled", "Transfer-Encoding: chunked", "5\r\nhello\r\n", false},
		{"large body, stalled after 100 KiB", "Content-Length: " + strconv.Itoa(200<<10), big, true},
	}
	for name, addr := range e.fronts() {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				before := e.origin.requests.Load()
				start := time.Now()
				got := rawExchange(t, addr, "POST /upload HTTP/1.1\r\nHost: www.example.com\r\n"+tc.head+"\r\n\r\n"+tc.body)
				if len(got) != 1 || got[0].status != http.StatusRequestTimeout || !got[0].close ||
					got[0].cacheStatus() != "cacheproxy; fwd=method; detail=request-body-timeout" {
					t.Fatalf("got %+v, want one 408 with Connection: close and detail=request-body-timeout", got)
				}
				t.Logf("408 after %v", time.Since(start))
				if !tc.streamed {
					if asked := e.origin.requests.Load() - before; asked != 0 {
						t.Fatalf("the origin was asked %d times for a body that never arrived", asked)
					}
					return
				}
				// The origin's request may still be on its way when the 408
				// is sent: wait for its end before counting.
				select {
				case err := <-originDone:
					if err == nil {
						t.Fatal("the origin read a whole body the client never sent")
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("no request of the origin ended in 10 s (asked %d times)", e.origin.requests.Load()-before)
				}
				if asked := e.origin.requests.Load() - before; asked != 1 {
					t.Fatalf("the origin was asked %d times, want once", asked)
				}
			})
		}
	}
}

// TestTrickledRequestBody: a body trickled below the minimum rate (one
// byte every 50 ms, 20 bytes a second against 500) gets 408 although it
// never stops, on both server paths; the origin is never asked.
func TestTrickledRequestBody(t *testing.T) {
	e := newEnv(t, fixed("ok"), func(c *Config) { c.RequestBodyTimeout = 300 * time.Millisecond })
	for name, addr := range e.fronts() {
		t.Run(name, func(t *testing.T) {
			c := dialTest(t, addr)
			defer c.Close()
			if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 1000\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte per tick until the proxy gives up
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to a trickled body: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Fatalf("got %d (close %v), want 408 and the connection closed", resp.StatusCode, resp.Close)
			}
			if n := e.origin.requests.Load(); n != 0 {
				t.Fatalf("the origin was asked %d times", n)
			}
		})
	}
}

// TestRequestBodyForwarded: bodies that arrive in time reach the origin
// whole; a complete chunked body of up to 64 KiB is sent with its length.
func TestRequestBodyForwarded(t *testing.T) {
	type seen struct {
		length int64
		te     []string
		body   string
		err    error
	}
	got := make(chan seen, 1)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- seen{r.ContentLength, r.TransferEncoding, string(b), err}
	})
	big := strings.Repeat("0123456789abcdef", 12<<10) // 192 KiB: streamed past its first 64 KiB
	chunk := func(s string) string { return strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n" }
	tests := []struct {
		name, head, body, want string
		length                 int64
	}{
		{"content-length", "Content-Length: 5", "hello", "hello", 5},
		{"chunked", "Transfer-Encoding: chunked", chunk("hel") + chunk("lo") + "0\r\n\r\n", "hello", 5},
		{"empty chunked", "Transfer-Encoding: chunked", "0\r\n\r\n", "", 0},
		{"large", "Content-Length: " + strconv.Itoa(len(big)), big, big, int64(len(big))},
		{"large chunked", "Transfer-Encoding: chunked", chunk(big) + "0\r\n\r\n", big, -1},
	}
	for name, addr := range e.fronts() {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				resp := rawExchange(t, addr, "POST /up HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n"+tc.head+"\r\n\r\n"+tc.body)
				if len(resp) != 1 || resp[0].status != http.StatusOK {
					t.Fatalf("got %+v, want one 200", resp)
				}
				s := <-got
				if s.err != nil || s.body != tc.want || s.length != tc.length {
					t.Fatalf("the origin read %d bytes (Content-Length %d, Transfer-Encoding %q, error %v), want %d bytes with Content-Length %d",
						len(s.body), s.length, s.te, s.err, len(tc.want), tc.length)
				}
			})
		}
	}
}
