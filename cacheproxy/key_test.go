package cacheproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

func TestPurgeURLKeyIsTheRequestKey(t *testing.T) {
	for _, tc := range []struct{ purge, host, target string }{
		{"https://www.example.com/a.js", "www.example.com", "/a.js"},
		{"http://WWW.EXAMPLE.COM:443/a.js", "www.example.com:80", "/a.js"},
		{"https://www.example.com/a.js?v=2.0", "www.example.com", "/a.js?v=2.0"},
		{"https://www.example.com", "www.example.com", "/"},
		{"https://www.example.com?x", "www.example.com", "/?x"},
		{"https://www.example.com/%7Ea", "www.example.com", "/~a"},
		{"https://www.example.com/ü", "www.example.com", "/%C3%BC"},
		{"https://www.example.com:8443/a", "www.example.com:8443", "/a"},
	} {
		_, key, err := urlKey(tc.purge)
		if err != nil {
			t.Fatalf("urlKey(%q): %v", tc.purge, err)
		}
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		r.Host = tc.host
		if _, rk := requestKey(r); rk != key {
			t.Errorf("purge %q → %q, request %s%s → %q", tc.purge, key, tc.host, tc.target, rk)
		}
	}
	for _, bad := range []string{"ftp://x/", "//x/a", "https:///a", "https://u@x/", "https://x/a b", "https://x/%zz", "https://x/a#f"} {
		if _, _, err := urlKey(bad); err == nil {
			t.Errorf("urlKey(%q) accepted", bad)
		}
	}
}

func TestRequestKeyAbsoluteForm(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://www.example.com/a?b", nil)
	r.RequestURI = "http://www.example.com/a?b"
	if _, key := requestKey(r); key != "www.example.com/a?b" {
		t.Fatalf("key %q", key)
	}
}

// FuzzURLKey checks that any valid purge URL names a key under its
// host's key form (package cachekey fuzzes the normalisation itself).
func FuzzURLKey(f *testing.F) {
	for _, s := range []string{"/", "/a%2fb", "/%7E", "/a b?c=d", "/\xff", "?x", "/%", "/%%41", "/a#b"} {
		f.Add("www.Example.com:443", s)
	}
	f.Fuzz(func(t *testing.T, host, pq string) {
		raw := "https://" + host + pq
		if admin.ValidateURL(raw) != nil || strings.ContainsAny(host, "/?#@") {
			return
		}
		_, key, err := urlKey(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(key, cachekey.Host(host)) {
			t.Fatalf("urlKey(%q) = %q does not start with the host", raw, key)
		}
	})
}

// TestPathAliasesAreOneObject: the spellings of one URL that origins serve
// as one resource are one object, fetched once, asked of the origin in
// their canonical form, and all removed by a purge of the canonical URL
// (red team C7). On both ways of serving.
func TestPathAliasesAreOneObject(t *testing.T) {
	aliases := []struct{ host, target string }{
		{"www.example.com", "/p/a/../b"},
		{"www.example.com", "/p//b"},
		{"www.example.com", "/p/./b"},
		{"www.example.com", "/p/b?"},
		{"www.example.com", "/p/%62"},
		{"www.example.com", "/p/c/%2E%2E/b"},
		{"www.example.com:080", "/p/b"},
		{"WWW.example.com.", "//p/x/..//b"},
	}
	for _, front := range []string{"fast path", "net/http"} {
		t.Run(front, func(t *testing.T) {
			var seen []string
			var mu sync.Mutex
			e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.RequestURI)
				mu.Unlock()
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, "b")
			})
			addr := e.fronts()[front]
			get := func(host, target string) response {
				t.Helper()
				got := rawExchange(t, addr, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
				if len(got) != 1 || got[0].status != http.StatusOK {
					t.Fatalf("GET %s (Host %s): %+v", target, host, got)
				}
				return got[0]
			}
			get("www.example.com", "/p/b")
			for _, a := range aliases {
				if r := get(a.host, a.target); !strings.HasPrefix(r.cacheStatus(), "cacheproxy; hit") {
					t.Errorf("GET %s (Host %s) after /p/b: %q, want a hit", a.target, a.host, r.cacheStatus())
				}
			}
			// Each alias misses after a purge of the canonical URL.
			for i, a := range aliases {
				e.clock.Advance(time.Second) // the copy was stored before the purge's time
				res := e.invalidate(admin.InvalidationRequest{ID: "c7-" + itoa(int64(i)), Mode: admin.ModeSimple, URLs: []string{"https://www.example.com/p/b"}})
				if res.Matched != 1 {
					t.Errorf("purge %d of the canonical URL matched %d, want 1", i, res.Matched)
				}
				if r := get(a.host, a.target); !strings.Contains(r.cacheStatus(), "fwd=uri-miss") {
					t.Errorf("GET %s (Host %s) after the purge: %q, want a miss", a.target, a.host, r.cacheStatus())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, uri := range seen {
				if uri != "/p/b" {
					t.Errorf("the origin was asked for %q, want /p/b", uri)
				}
			}
			if len(seen) != 1+len(aliases) {
				t.Errorf("the origin was asked %d times, want %d (once, then once after each purge)", len(seen), 1+len(aliases))
			}
		})
	}
}
