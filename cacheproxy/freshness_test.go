package cacheproxy

import (
	"net/http"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseCacheControl(t *testing.T) {
	cc := parseCacheControl([]string{`max-age=60, S-MAXAGE="120", private="Set-Cookie, X"`, "stale-while-revalidate=30,stale-if-error=abc", "no-cache"})
	if !cc.hasMaxAge || cc.maxAge != time.Minute || !cc.hasSMaxAge || cc.sMaxAge != 2*time.Minute ||
		!cc.private || !cc.noCache || cc.staleWhileRevalidate != 30*time.Second || cc.staleIfError != 0 {
		t.Fatalf("parsed %+v", cc)
	}
	if cc := parseCacheControl([]string{"max-age=60, max-age=120"}); cc.maxAge != 0 {
		t.Fatalf("conflicting max-age gave %v, want 0 (stale)", cc.maxAge)
	}
	if cc := parseCacheControl([]string{"max-age=99999999999999"}); cc.maxAge != maxDelta {
		t.Fatalf("huge max-age gave %v, want clamp", cc.maxAge)
	}
}

func TestDecide(t *testing.T) {
	lm := t0.Add(-100 * time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		req      http.Header
		status   int
		h        http.Header
		store    bool
		why      string
		lifetime time.Duration
		noStale  bool
	}{
		{"max-age", nil, 200, hdr("Cache-Control", "max-age=60"), true, "", time.Minute, false},
		{"s-maxage first", nil, 200, hdr("Cache-Control", "max-age=60, s-maxage=10"), true, "", 10 * time.Second, false},
		{"expires", nil, 200, hdr("Expires", t0.Add(time.Hour).Format(http.TimeFormat)), true, "", time.Hour, false},
		{"expires in the past", nil, 200, hdr("Expires", "0", "ETag", `"x"`), true, "", 0, false},
		{"heuristic", nil, 200, hdr("Last-Modified", lm), true, "", 10 * time.Hour, false},
		{"heuristic capped", nil, 200, hdr("Last-Modified", t0.Add(-1000*time.Hour).Format(http.TimeFormat)), true, "", maxHeuristic, false},
		{"heuristic needs a heuristic status", nil, 302, hdr("Last-Modified", lm), false, "status", 0, false},
		{"explicit 302", nil, 302, hdr("Cache-Control", "max-age=5"), true, "", 5 * time.Second, false},
		{"206", nil, 206, hdr("Cache-Control", "max-age=5"), false, "status", 5 * time.Second, false},
		{"no-store", nil, 200, hdr("Cache-Control", "no-store, max-age=5"), false, "no-store", 5 * time.Second, false},
		{"request no-store", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=5"), false, "no-store", 5 * time.Second, false},
		{"private", nil, 200, hdr("Cache-Control", "private, max-age=5"), false, "private", 5 * time.Second, false},
		{"authorization", hdr("Authorization", "x"), 200, hdr("Cache-Control", "max-age=5"), false, "authorization", 5 * time.Second, false},
		{"authorization public", hdr("Authorization", "x"), 200, hdr("Cache-Control", "public, max-age=5"), true, "", 5 * time.Second, false},
		{"authorization s-maxage", hdr("Authorization", "x"), 200, hdr("Cache-Control", "s-maxage=5"), true, "", 5 * time.Second, false},
		{"authorization must-revalidate", hdr("Authorization", "x"), 200, hdr("Cache-Control", "max-age=5, must-revalidate"), true, "", 5 * time.Second, true},
		{"set-cookie", nil, 200, hdr("Cache-Control", "max-age=5", "Set-Cookie", "a=b"), false, "set-cookie", 5 * time.Second, false},
		{"vary star", nil, 200, hdr("Cache-Control", "max-age=5", "Vary", "Accept, *"), false, "vary", 5 * time.Second, false},
		{"no-cache with validator", nil, 200, hdr("Cache-Control", "no-cache", "ETag", `"a"`), true, "", 0, true},
		{"no-cache without validator", nil, 200, hdr("Cache-Control", "no-cache"), false, "no-cache", 0, true},
		{"nothing", nil, 200, hdr(), false, "stale", 0, false},
		{"proxy-revalidate", nil, 200, hdr("Cache-Control", "max-age=5, proxy-revalidate"), true, "", 5 * time.Second, true},
		{"negative cache 404", nil, 404, hdr("Cache-Control", "max-age=5"), true, "", 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req == nil {
				req = http.Header{}
			}
			p := decide(req, tc.status, tc.h, t0)
			if p.store != tc.store || p.why != tc.why || p.lifetime != tc.lifetime || p.noStale != tc.noStale {
				t.Fatalf("decide = %+v, want store=%v why=%q lifetime=%v noStale=%v", p, tc.store, tc.why, tc.lifetime, tc.noStale)
			}
		})
	}
}

func TestInitialAge(t *testing.T) {
	for _, tc := range []struct {
		name           string
		age            string
		req, resp, day time.Duration // offsets from t0 of request, response, Date
		want           time.Duration
	}{
		{"fresh", "", 0, 0, 0, 0},
		{"Age header plus delay", "10", 0, 2 * time.Second, 0, 12 * time.Second},
		{"apparent age wins", "1", 0, 0, -30 * time.Second, 30 * time.Second},
		{"Date in the future", "", 0, 0, time.Hour, 0},
		{"bad Age", "x", 0, 0, 0, 0},
	} {
		h := hdr("Age", tc.age)
		if got := initialAge(h, t0.Add(tc.req), t0.Add(tc.resp), t0.Add(tc.day)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestObjectFreshness(t *testing.T) {
	now := t0.UnixNano()
	o := &object{responseTime: now, lifetime: 60 * time.Second, swr: 30 * time.Second, sie: 300 * time.Second}
	sec := int64(time.Second)
	for _, tc := range []struct {
		at          int64
		fresh       bool
		swr, sie    bool
		wantTTLSecs int64
	}{
		{now, true, true, true, 60},
		{now + 59*sec, true, true, true, 1},
		{now + 61*sec, false, true, true, -1},
		{now + 91*sec, false, false, true, -31},
		{now + 361*sec, false, false, false, -301},
	} {
		ttl := o.ttl(tc.at)
		if o.fresh(tc.at) != tc.fresh || o.staleUsable(tc.at, o.swr, time.Hour) != tc.swr ||
			o.staleUsable(tc.at, o.sie, time.Hour) != tc.sie || ttlSeconds(ttl) != tc.wantTTLSecs {
			t.Errorf("at +%ds: fresh=%v swr=%v sie=%v ttl=%d", (tc.at-now)/sec, o.fresh(tc.at),
				o.staleUsable(tc.at, o.swr, time.Hour), o.staleUsable(tc.at, o.sie, time.Hour), ttlSeconds(ttl))
		}
	}
	// A soft purge makes it stale at once and stale-usable for the grace.
	o.softPurgedAt.Store(now + 10*sec)
	if o.fresh(now+11*sec) || !o.staleUsable(now+11*sec, 0, time.Minute) || o.staleUsable(now+71*sec+sec, 0, time.Minute) {
		t.Fatal("soft purge semantics broken")
	}
	o.noStale = true
	if o.staleUsable(now+11*sec, time.Hour, time.Hour) {
		t.Fatal("must-revalidate object served stale")
	}
}

func TestNotModified(t *testing.T) {
	o := &object{parts: &objectParts{etag: `W/"a"`, lastModified: "Thu, 01 Jan 2026 00:00:00 GMT"}}
	for _, tc := range []struct {
		h    http.Header
		want bool
	}{
		{hdr("If-None-Match", `"a"`), true},
		{hdr("If-None-Match", `"b", W/"a"`), true},
		{hdr("If-None-Match", `*`), true},
		{hdr("If-None-Match", `"b"`), false},
		{hdr("If-None-Match", `"b"`, "If-Modified-Since", "Fri, 02 Jan 2026 00:00:00 GMT"), false},
		{hdr("If-Modified-Since", "Fri, 02 Jan 2026 00:00:00 GMT"), true},
		{hdr("If-Modified-Since", "Wed, 31 Dec 2025 00:00:00 GMT"), false},
		{hdr("If-Modified-Since", "garbage"), false},
		{hdr(), false},
	} {
		if got := notModified(tc.h, o); got != tc.want {
			t.Errorf("notModified(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
