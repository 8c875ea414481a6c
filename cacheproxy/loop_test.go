package cacheproxy

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestForwardingLoopAnswered508: a proxy whose origin is itself answers
// 508 Loop Detected after one round, for a miss (which waited on its own
// coalesced fetch until OriginTimeout) and for a POST (which recursed until
// the process ran out of file descriptors), on both ways of serving (red
// team C14); a request that passed through another cacheproxy is served.
func TestForwardingLoopAnswered508(t *testing.T) {
	const originTimeout = 20 * time.Second
	for _, fast := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		self, _ := url.Parse("http://" + ln.Addr().String())
		p, err := New(Config{Origin: self, OriginTimeout: originTimeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Shards: 8})
		if err != nil {
			t.Fatal(err)
		}
		srv := NewServer(p, &http.Server{})
		srv.DisableFastPath = !fast
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		client := &http.Client{Timeout: originTimeout / 2}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, self.String()+"/loop", strings.NewReader(""))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("fast path %v, %s: %v", fast, method, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusLoopDetected {
				t.Errorf("fast path %v, %s: %d %q, want 508", fast, method, resp.StatusCode, resp.Header.Get("Cache-Status"))
			}
		}
		if n := p.metrics.requests[outcomeRefused].Load(); n != 2 {
			t.Errorf("fast path %v: %d requests refused, want 2 (one round each)", fast, n)
		}
		// Another cacheproxy in front (tiered caches) is no loop.
		req, _ := http.NewRequest(http.MethodGet, self.String()+"/loop", nil)
		req.Header.Set("Via", "1.1 cacheproxy-0123456789abcdef, 1.1 edge")
		if p.looped(req) {
			t.Error("another cacheproxy's Via was taken for a loop")
		}
		req.Header["Via"] = []string{"1.0 edge", "1.1 " + p.via + " (comment)"}
		if !p.looped(req) {
			t.Error("a Via naming this proxy is not a loop")
		}
		srv.Close()
		p.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}
}
