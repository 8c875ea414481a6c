package cacheproxy

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Conformance with RFC 9111, 9110 and 9213, as tables, through HTTP. The
// test clock starts at Fri, 02 Jan 2026 03:04:05 GMT.

// TestExpiresDates: an Expires the cache cannot parse strictly (RFC 9110
// §5.6.7) means already expired (RFC 9111 §5.3); the obsolete forms are
// accepted, the zone name in any case.
func TestExpiresDates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expires []string
		fresh   bool
	}{
		{"IMF-fixdate", []string{"Fri, 02 Jan 2026 04:04:05 GMT"}, true},
		{"rfc850", []string{"Friday, 02-Jan-26 04:04:05 GMT"}, true},
		{"asctime", []string{"Fri Jan  2 04:04:05 2026"}, true},
		{"lower-case zone", []string{"Fri, 02 Jan 2026 04:04:05 gmt"}, true},
		{"one-digit hour", []string{"Fri, 02 Jan 2026 4:04:05 GMT"}, false},
		{"one-digit day", []string{"Fri, 2 Jan 2026 04:04:05 GMT"}, false},
		{"runs of spaces", []string{"Fri,  02 Jan 2026  04:04:05 GMT"}, false},
		{"wrong day name", []string{"Mon, 02 Jan 2026 04:04:05 GMT"}, false},
		{"not a day name", []string{"Fry, 02 Jan 2026 04:04:05 GMT"}, false},
		{"lower-case day name", []string{"fri, 02 Jan 2026 04:04:05 GMT"}, false},
		{"other zone", []string{"Fri, 02 Jan 2026 04:04:05 UTC"}, false},
		{"numeric zone", []string{"Fri, 02 Jan 2026 04:04:05 +0000"}, false},
		{"two lines", []string{"Fri, 02 Jan 2026 04:04:05 GMT", "Fri, 02 Jan 2026 04:04:05 GMT"}, false},
		{"zero", []string{"0"}, false},
		{"empty", []string{""}, false},
		{"31 February", []string{"Tue, 31 Feb 2026 04:04:05 GMT"}, false},
		{"past", []string{"Fri, 02 Jan 2026 02:04:05 GMT"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Expires"] = tc.expires
				_, _ = io.WriteString(w, "x")
			})
			e.get("/d")
			r := e.get("/d")
			if got := strings.HasPrefix(r.cacheStatus(), "cacheproxy; hit"); got != tc.fresh {
				t.Fatalf("Expires %q: second request %q, want fresh=%v", tc.expires, r.cacheStatus(), tc.fresh)
			}
		})
	}
}

// TestAgeListUsesFirstMember: RFC 9111 §5.1.
func TestAgeListUsesFirstMember(t *testing.T) {
	for _, tc := range []struct {
		age  []string
		want string
	}{
		{[]string{"20"}, "ttl=40"},
		{[]string{"20, 50"}, "ttl=40"},
		{[]string{"20,50"}, "ttl=40"},
		{[]string{"20", "50"}, "ttl=40"},
		{[]string{"abc"}, "ttl=60"},
		{[]string{"-5"}, "ttl=60"},
	} {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header()["Age"] = tc.age
			_, _ = io.WriteString(w, "x")
		})
		e.get("/age")
		if r := e.get("/age"); !strings.HasPrefix(r.cacheStatus(), "cacheproxy; hit; "+tc.want) {
			t.Errorf("Age %q: %q, want a hit with %s", tc.age, r.cacheStatus(), tc.want)
		}
	}
}

// TestCDNCacheControl: RFC 9213. When the response has CDN-Cache-Control,
// every storage and freshness decision follows it and ignores
// Cache-Control and Expires; each directive both ways. Cache-Control still
// reaches the client unchanged.
func TestCDNCacheControl(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cdn, cc    string
		header     []string // more response fields
		reqHeader  []string // fields of the first request
		after      time.Duration
		originDown bool
		status     int
		want       string // second request's Cache-Status prefix
	}{
		{"max-age over no-store", "max-age=60", "no-store", nil, nil, 59 * time.Second, false, 200, "cacheproxy; hit; ttl=1"},
		{"no-store over max-age", "no-store", "max-age=60", nil, nil, time.Second, false, 200, "cacheproxy; fwd=uri-miss"},
		{"max-age over longer max-age", "max-age=60", "max-age=600", nil, nil, 61 * time.Second, false, 200, "cacheproxy; fwd=stale"},
		{"max-age over shorter max-age", "max-age=600", "max-age=60", nil, nil, 61 * time.Second, false, 200, "cacheproxy; hit"},
		{"s-maxage over max-age", "s-maxage=30, max-age=600", "max-age=600", nil, nil, 31 * time.Second, false, 200, "cacheproxy; fwd=stale"},
		{"cc s-maxage ignored", "max-age=30", "s-maxage=600", nil, nil, 31 * time.Second, false, 200, "cacheproxy; fwd=stale"},
		{"private over public", "private, max-age=60", "public, max-age=60", nil, nil, time.Second, false, 200, "cacheproxy; fwd=uri-miss"},
		{"cc private ignored", "max-age=60", "private", nil, nil, time.Second, false, 200, "cacheproxy; hit"},
		{"no-cache over max-age", "no-cache, max-age=60", "max-age=60", []string{"ETag", `"e"`}, nil, time.Second, false, 200, "cacheproxy; fwd=stale; fwd-status=304"},
		{"cc no-cache ignored", "max-age=60", "no-cache", []string{"ETag", `"e"`}, nil, time.Second, false, 200, "cacheproxy; hit"},
		{"must-revalidate forbids stale-if-error", "max-age=10, must-revalidate, stale-if-error=60", "max-age=10, stale-if-error=60", nil, nil, 11 * time.Second, true, 503, "cacheproxy; fwd=stale; fwd-status=503"},
		{"cc must-revalidate ignored", "max-age=10, stale-if-error=60", "max-age=10, must-revalidate", nil, nil, 11 * time.Second, true, 200, "cacheproxy; fwd=stale; fwd-status=503; ttl=-1; detail=stale-if-error"},
		{"proxy-revalidate forbids stale-if-error", "max-age=10, proxy-revalidate, stale-if-error=60", "max-age=10, stale-if-error=60", nil, nil, 11 * time.Second, true, 503, "cacheproxy; fwd=stale; fwd-status=503"},
		{"cc proxy-revalidate ignored", "max-age=10, stale-if-error=60", "max-age=10, proxy-revalidate", nil, nil, 11 * time.Second, true, 200, "cacheproxy; fwd=stale; fwd-status=503; ttl=-1; detail=stale-if-error"},
		{"stale-while-revalidate", "max-age=10, stale-while-revalidate=60", "max-age=10", nil, nil, 20 * time.Second, false, 200, "cacheproxy; fwd=stale; ttl=-10; detail=stale-while-revalidate"},
		{"cc stale-while-revalidate ignored", "max-age=10", "max-age=10, stale-while-revalidate=60", nil, nil, 20 * time.Second, false, 200, "cacheproxy; fwd=stale; fwd-status=200; stored"},
		{"stale-if-error", "max-age=10, stale-if-error=60", "max-age=10", nil, nil, 20 * time.Second, true, 200, "cacheproxy; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error"},
		{"cc stale-if-error ignored", "max-age=10", "max-age=10, stale-if-error=60", nil, nil, 20 * time.Second, true, 503, "cacheproxy; fwd=stale; fwd-status=503"},
		{"public stores an authorized answer", "public, max-age=60", "max-age=60", nil, []string{"Authorization", "Bearer x"}, time.Second, false, 200, "cacheproxy; hit"},
		{"cc public ignored", "max-age=60", "public, max-age=60", nil, []string{"Authorization", "Bearer x"}, time.Second, false, 200, "cacheproxy; fwd=uri-miss"},
		{"Expires ignored", "public", "", []string{"Expires", "Fri, 02 Jan 2026 04:04:05 GMT"}, nil, time.Second, false, 200, "cacheproxy; fwd=uri-miss"},
		{"empty field ignored", ",", "max-age=60", nil, nil, time.Second, false, 200, "cacheproxy; hit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var down atomic.Bool
			e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				h := w.Header()
				h.Set("CDN-Cache-Control", tc.cdn)
				if tc.cc != "" {
					h.Set("Cache-Control", tc.cc)
				}
				for i := 0; i+1 < len(tc.header); i += 2 {
					h.Set(tc.header[i], tc.header[i+1])
				}
				if r.Header.Get("If-None-Match") != "" {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				_, _ = io.WriteString(w, "x")
			})
			first := e.get("/c", tc.reqHeader...)
			if first.header.Get("Cache-Control") != tc.cc || first.header.Get("Cdn-Cache-Control") != tc.cdn {
				t.Fatalf("client got Cache-Control %q and CDN-Cache-Control %q, want the origin's %q and %q",
					first.header.Get("Cache-Control"), first.header.Get("Cdn-Cache-Control"), tc.cc, tc.cdn)
			}
			e.clock.Advance(tc.after)
			down.Store(tc.originDown)
			r := e.get("/c")
			if r.status != tc.status || !strings.HasPrefix(r.cacheStatus(), tc.want) {
				t.Fatalf("second request: %d %q, want %d %q", r.status, r.cacheStatus(), tc.status, tc.want)
			}
		})
	}
}

// TestUnsafeMethodsInvalidate: RFC 9111 §4.4, for every method not known to
// be safe, unknown ones included; safe methods invalidate nothing.
func TestUnsafeMethodsInvalidate(t *testing.T) {
	for _, tc := range []struct {
		method     string
		invalidate bool
	}{
		{http.MethodPost, true}, {http.MethodPut, true}, {http.MethodDelete, true}, {http.MethodPatch, true},
		{"MKCOL", true}, {"PROPPATCH", true}, {"LOCK", true}, {"FROBNICATE", true}, {"post", true},
		{http.MethodOptions, false}, {http.MethodTrace, false}, {"PROPFIND", false}, {"REPORT", false},
	} {
		e := newEnv(t, counting("Cache-Control", "max-age=60"))
		e.get("/m")
		if r := e.do(tc.method, "/m"); !strings.HasPrefix(r.cacheStatus(), "cacheproxy; fwd=method") {
			t.Fatalf("%s: %q, want it passed to the origin", tc.method, r.cacheStatus())
		}
		r := e.get("/m")
		if got := !strings.HasPrefix(r.cacheStatus(), "cacheproxy; hit"); got != tc.invalidate {
			t.Errorf("%s: the next GET was %q, want invalidated=%v", tc.method, r.cacheStatus(), tc.invalidate)
		}
	}
}

// TestUnknownTransferCodingNotStored: an origin answer framed with a
// transfer coding the proxy does not know is answered 502 with a detail
// saying so, and never stored.
func TestUnknownTransferCodingNotStored(t *testing.T) {
	for _, te := range []string{"foo", "gzip, chunked", "chunked, identity"} {
		e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: " + te + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
			_ = buf.Flush()
		})
		for range 2 {
			r := e.get("/te")
			if r.status != http.StatusBadGateway || !strings.Contains(r.cacheStatus(), "detail=origin-unsupported-transfer-coding") {
				t.Fatalf("Transfer-Encoding %q: %d %q", te, r.status, r.cacheStatus())
			}
		}
		if n := e.origin.requests.Load(); n != 2 {
			t.Fatalf("Transfer-Encoding %q: origin saw %d requests, want 2 (nothing stored)", te, n)
		}
	}
}
