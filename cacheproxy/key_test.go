package cacheproxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"www.example.com", "www.example.com"},
		{"WWW.Example.COM", "www.example.com"},
		{"www.example.com:80", "www.example.com"},
		{"www.example.com:443", "www.example.com"},
		{"www.example.com:8080", "www.example.com:8080"},
		{"www.example.com.", "www.example.com"},
		{"www.example.com.:443", "www.example.com"},
		{"[::1]:80", "[::1]"},
		{"[::1]", "[::1]"},
		{"[::1]:8443", "[::1]:8443"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"", ""},
	} {
		if got := normalizeHost(tc.in); got != tc.want {
			t.Errorf("normalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizePathQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"?q=1", "/?q=1"},
		{"/a/b?x=1&y=2", "/a/b?x=1&y=2"},
		{"/a%2fb", "/a%2Fb"},           // reserved stays encoded, hex upper-cased
		{"/%7euser/%41", "/~user/A"},   // unreserved decoded
		{"/a b", "/a%20b"},             // space encoded
		{"/caf\xc3\xa9", "/caf%C3%A9"}, // non-ASCII encoded
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/%zz", "/%zz"}, // invalid escape kept
		{"/%", "/%"},
		{"/a/../b", "/a/../b"}, // dot segments are the origin's business
		{"/x?b=2&a=1", "/x?b=2&a=1"},
		{"/x?q=%2A*", "/x?q=%2A*"},
	} {
		if got := normalizePathQuery(tc.in); got != tc.want {
			t.Errorf("normalizePathQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURLKeyMatchesRequestKey(t *testing.T) {
	for _, tc := range []struct{ purge, host, target string }{
		{"https://www.example.com/a.js", "www.example.com", "/a.js"},
		{"http://WWW.EXAMPLE.COM:443/a.js", "www.example.com:80", "/a.js"},
		{"https://www.example.com/a.js?v=2.0", "www.example.com", "/a.js?v=2.0"},
		{"https://www.example.com", "www.example.com", "/"},
		{"https://www.example.com?x", "www.example.com", "/?x"},
		{"https://www.example.com/%7Ea#frag", "www.example.com", "/~a"},
		{"https://www.example.com:8443/a", "www.example.com:8443", "/a"},
	} {
		key, err := URLKey(tc.purge)
		if err != nil {
			t.Fatalf("URLKey(%q): %v", tc.purge, err)
		}
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		r.Host = tc.host
		if _, rk := requestKey(r); rk != key {
			t.Errorf("purge %q → %q, request %s%s → %q", tc.purge, key, tc.host, tc.target, rk)
		}
	}
	for _, bad := range []string{"ftp://x/", "//x/a", "https:///a", "https://u@x/"} {
		if _, err := URLKey(bad); err == nil {
			t.Errorf("URLKey(%q) accepted", bad)
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

// FuzzNormalize checks that key normalisation is idempotent, never loses
// the leading slash, and that any valid purge URL names the key a client
// request for the same URL gets.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a%2fb", "/%7E", "/a b?c=d", "/\xff", "?x", "/%", "/%%41", "/a#b"} {
		f.Add("www.Example.com:443", s)
	}
	f.Fuzz(func(t *testing.T, host, pq string) {
		n := normalizePathQuery(pq)
		if !strings.HasPrefix(n, "/") {
			t.Fatalf("normalizePathQuery(%q) = %q lacks the leading slash", pq, n)
		}
		if again := normalizePathQuery(n); again != n {
			t.Fatalf("not idempotent: %q → %q → %q", pq, n, again)
		}
		if h := normalizeHost(host); normalizeHost(h) != h {
			t.Fatalf("normalizeHost not idempotent on %q", host)
		}
		raw := "https://" + host + pq
		if admin.ValidateURL(raw) != nil || strings.ContainsAny(host, "/?#@") {
			return
		}
		key, err := URLKey(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(key, normalizeHost(host)) {
			t.Fatalf("URLKey(%q) = %q does not start with the host", raw, key)
		}
	})
}
