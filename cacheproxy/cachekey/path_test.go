package cachekey

import (
	"strings"
	"testing"
)

func TestPathQuery(t *testing.T) {
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
		{"/%zz", "/%25zz"}, // a stray '%' is encoded
		{"/%", "/%25"},
		{"/%7%41", "/%257A"},
		{"/a/../b", "/b"}, // dot segments resolved
		{"/a/./b", "/a/b"},
		{"/a/%2E%2e/b", "/b"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/..", "/"},
		{"/../../a", "/a"},
		{"/a//b", "/a/b"}, // slashes merged
		{"//", "/"},
		{"/a/", "/a/"},
		{"/a/b/?x", "/a/b/?x"},
		{"/a?", "/a"}, // empty query dropped
		{"/a/../b?", "/b"},
		{"/a?x/../y", "/a?x/../y"}, // the query is not a path
		{"/.well-known/x", "/.well-known/x"},
		{"/a..b/...", "/a..b/..."},
		{"/a%2F..%2Fb", "/a%2F..%2Fb"}, // one segment
		{"/x?b=2&a=1", "/x?b=2&a=1"},
		{"/x?q=%2A*", "/x?q=**"}, // a star either way (red team K3)
		{"/a%2ab", "/a*b"},
	} {
		if got := PathQuery(tc.in); got != tc.want {
			t.Errorf("PathQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAliased(t *testing.T) {
	for _, tc := range []struct {
		pq   string
		want bool
	}{
		{"", false},
		{"/", false},
		{"?x=/../", false}, // the query is not a path
		{"/a/", false},
		{"/a/b?c//d", false},
		{"/.well-known/", false},
		{"/a..b/...", false},
		{"/*./", false},
		{"/a%2F..%2Fb", false}, // one segment
		{"/./", true},
		{"/.", true},
		{"/..", true},
		{"/a/../b", true},
		{"//", true},
		{"//*", true},
		{"/.//*", true},
		{"/a//b", true},
		{"/%2E/", true},
		{"/%2e%2E/", true},
		{"/.%2e?x", true},
	} {
		if got := Aliased(tc.pq); got != tc.want {
			t.Errorf("Aliased(%q) = %v, want %v", tc.pq, got, tc.want)
		}
	}
}

// FuzzPathQuery checks that the key form keeps its leading slash, is its
// own key form, holds no alias, and that what Aliased calls no alias
// keeps its segments.
func FuzzPathQuery(f *testing.F) {
	for _, s := range []string{"/", "/a%2fb", "/%7E", "/a b?c=d", "/\xff", "?x", "/%", "/%%41", "/a#b", "/a/%2E%2e/b", "//x", "/a/"} {
		f.Add("www.Example.com:443", s)
	}
	f.Fuzz(func(t *testing.T, host, pq string) {
		n := PathQuery(pq)
		if !strings.HasPrefix(n, "/") {
			t.Fatalf("PathQuery(%q) = %q lacks the leading slash", pq, n)
		}
		if again := PathQuery(n); again != n {
			t.Fatalf("not idempotent: %q → %q → %q", pq, n, again)
		}
		if Aliased(n) {
			t.Fatalf("PathQuery(%q) = %q, which Aliased calls an alias", pq, n)
		}
		if p, _, _ := strings.Cut(pq, "?"); strings.HasPrefix(p, "/") && !Aliased(pq) {
			if np, _, _ := strings.Cut(n, "?"); strings.Count(np, "/") != strings.Count(p, "/") {
				t.Fatalf("Aliased(%q) is false, but PathQuery gives %q, of other segments", pq, n)
			}
		}
		if h := Host(host); Host(h) != h {
			t.Fatalf("Host not idempotent on %q", host)
		}
	})
}

// TestPatternPathQuery: in a ban pattern "%2A" stays a literal star, apart
// from the wildcard "*"; everything else is normalised as in keys.
func TestPatternPathQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a%2ab*", "/a%2Ab*"},
		{"/a/../%2A/%7e*", "/%2A/~*"},
		{"?q=%2A", "/?q=%2A"},
		{"/a*", "/a*"},
	} {
		if got := PatternPathQuery(tc.in); got != tc.want {
			t.Errorf("PatternPathQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
