package cacheproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

func asStatusError(err error, target **admin.StatusError) bool { return errors.As(err, target) }

func TestAdminAPIRefusals(t *testing.T) {
	e := newEnv(t, counting("Cache-Control", "max-age=60"))
	valid := `{"id":"x","mode":"simple","urls":["https://www.example.com/a"]}`
	for _, tc := range []struct {
		name, token, body string
		status            int
		msg               string
	}{
		{"no token", "", valid, 401, "bearer token"},
		{"wrong token", "nope", valid, 401, "bearer token"},
		{"bad JSON", testToken, `{"id":`, 400, "invalid JSON"},
		{"unknown field", testToken, `{"id":"x","mode":"simple","urls":["https://a/"],"force":true}`, 400, `unknown field "force"`},
		{"unknown mode", testToken, `{"id":"x","mode":"nuke","urls":["https://a/"]}`, 400, "unknown mode"},
		{"bad URL", testToken, `{"id":"x","mode":"simple","urls":["ftp://a/"]}`, 400, "urls[0]"},
		{"bad pattern", testToken, `{"id":"x","mode":"ban","urls":["www.example.com/*"]}`, 400, "urls[0]"},
		{"tags with ban", testToken, `{"id":"x","mode":"ban","urls":["https://a/"],"tags":["t"]}`, 400, "tags: not allowed"},
		{"refetch with ban", testToken, `{"id":"x","mode":"ban","urls":["https://a/"],"refetch":true}`, 400, "refetch: not allowed"},
		{"trailing data", testToken, valid + `{}`, 400, "after the request"},
		{"empty", testToken, ``, 400, "empty body"},
		{"too large", testToken, `{"id":"` + strings.Repeat("x", admin.MaxBodyBytes) + `"}`, 413, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := e.postAdmin(admin.InvalidationsPath, tc.token, []byte(tc.body))
			if status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %q, want %d with %q", status, msg, tc.status, tc.msg)
			}
		})
	}
	// 413 also for a chunked body with no Content-Length.
	req, _ := http.NewRequest(http.MethodPost, e.admin.URL+admin.InvalidationsPath, io.MultiReader(strings.NewReader(`{"id":"`), bytes.NewReader(bytes.Repeat([]byte("x"), admin.MaxBodyBytes))))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversized body: %d", resp.StatusCode)
	}
	if n := e.proxy.metrics.invalidations.WithLabelValues("simple"); n == nil {
		t.Fatal("metric missing")
	}
}

func TestAdminAPIStatsHealthMetrics(t *testing.T) {
	e := newEnv(t, counting("Cache-Control", "max-age=60"))
	e.get("/a")
	e.get("/a")
	s, err := e.client.Stats(context.Background(), e.admin.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.Objects != 1 || s.Hits != 1 || s.Misses != 1 || s.OriginRequests != 1 || s.MaxBytes != DefaultCacheSize || s.Bytes <= 0 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := (&admin.Client{Token: "wrong"}).Stats(context.Background(), e.admin.URL); err == nil {
		t.Fatal("stats without the token answered")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(e.admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz %d", code)
	}
	e.proxy.SetReady(false)
	if code, _ := get("/readyz"); code != 503 {
		t.Fatalf("/readyz while draining: %d", code)
	}
	e.clock.Advance(time.Second)
	e.invalidate(admin.InvalidationRequest{ID: "m", Mode: admin.ModeSoft, URLs: []string{site + "/a"}})
	e.get("/a")
	code, body := get("/metrics")
	for _, want := range []string{
		`cacheproxy_requests_total{cache="hit"} 1`,
		`cacheproxy_requests_total{cache="stale"} 1`,
		`cacheproxy_origin_requests_total{code="2xx"}`,
		`cacheproxy_origin_request_duration_seconds_bucket`,
		`cacheproxy_objects 1`,
		`cacheproxy_bytes `,
		`cacheproxy_evictions_total 0`,
		`cacheproxy_invalidations_total{mode="soft"} 1`,
		`cacheproxy_stale_served_total 1`,
		`go_goroutines`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %q", code, want)
		}
	}
	if code, _ := get(admin.InvalidationsPath); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d, want 405", admin.InvalidationsPath, code)
	}
	if code, _ := get("/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown path %d", code)
	}
}

func TestAdminRefusesEverythingWithoutConfiguredToken(t *testing.T) {
	e := newEnv(t, counting(), func(c *Config) { c.AdminToken = "" })
	if status, _ := e.postAdmin(admin.InvalidationsPath, "", []byte(`{}`)); status != 401 {
		t.Fatalf("got %d, want 401", status)
	}
	if status, _ := e.postAdmin(admin.InvalidationsPath, " ", []byte(`{}`)); status != 401 {
		t.Fatalf("got %d, want 401", status)
	}
}
