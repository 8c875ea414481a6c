package cacheproxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestStoredOnlyWhenStored: Cache-Status says "stored" only of an answer
// that was stored, on both server paths (red team K1, O1 and O5: a body
// that outgrew MaxObjectSize or was cut short was announced stored). A
// body of up to 64 KiB is stored before its header goes; a longer one's
// header goes at 64 KiB, without "stored".
func TestStoredOnlyWhenStored(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		switch r.URL.Path {
		case "/small":
			_, _ = io.WriteString(w, "small")
		case "/chunked-too-large": // no Content-Length: found too large on the way
			for range 4 {
				_, _ = io.WriteString(w, strings.Repeat("c", 8<<10))
				w.(http.Flusher).Flush()
			}
		case "/cut":
			w.Header().Set("Content-Length", "20")
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	}, func(c *Config) { c.CacheSize = 4 << 20; c.MaxObjectSize = 16 << 10 })
	// get returns the Cache-Status a client got (ok false without a
	// response) and whether it read a whole body.
	get := func(addr, path string) (cs string, ok bool, err error) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "www.example.com"
		resp, err := e.transport.RoundTrip(req)
		if err != nil {
			return "", false, err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return resp.Header.Get("Cache-Status"), true, err
	}
	for name, addr := range e.fronts() {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				path, want string
				stored     bool
			}{
				{"/small", "cacheproxy; fwd=uri-miss; fwd-status=200; stored", true},
				{"/chunked-too-large", "cacheproxy; fwd=uri-miss; fwd-status=200", false},
			} {
				path := tc.path + "?" + strings.ReplaceAll(name, " ", "-")
				cs, _, err := get(addr, path)
				if err != nil || cs != tc.want {
					t.Fatalf("GET %s: Cache-Status %q (error %v), want %q", tc.path, cs, err, tc.want)
				}
				again, _, err := get(addr, path)
				if err != nil || strings.HasPrefix(again, "cacheproxy; hit") != tc.stored {
					t.Fatalf("GET %s again: %q (error %v), stored %v", tc.path, again, err, tc.stored)
				}
			}
			if cs, answered, err := get(addr, "/cut?"+strings.ReplaceAll(name, " ", "-")); err == nil || answered && strings.Contains(cs, "stored") {
				t.Fatalf("a body cut short: error %v, Cache-Status %q; want the cut seen and no \"stored\"", err, cs)
			}
		})
	}
}

// TestLongBodyHeaderBeforeItsEnd: the header of a body being stored that
// is longer than 64 KiB goes before its end, so it cannot say "stored"; the
// object is stored all the same.
func TestLongBodyHeaderBeforeItsEnd(t *testing.T) {
	release := make(chan struct{})
	done := sync.OnceFunc(func() { close(release) })
	defer done() // a failure must not leave the origin's handler waiting
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(96<<10))
		_, _ = io.WriteString(w, strings.Repeat("l", 80<<10))
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, strings.Repeat("l", 16<<10))
	})
	req, _ := http.NewRequest(http.MethodGet, e.front.URL+"/long", nil)
	req.Host = "www.example.com"
	resp, err := e.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if cs := resp.Header.Get("Cache-Status"); cs != "cacheproxy; fwd=uri-miss; fwd-status=200" {
		t.Fatalf("a long body's header said %q before its end", cs)
	}
	done()
	if b, err := io.ReadAll(resp.Body); err != nil || len(b) != 96<<10 {
		t.Fatalf("long body: %d bytes, %v", len(b), err)
	}
	resp.Body.Close()
	wantStatus(t, e.get("/long"), 200, "cacheproxy; hit")
}
