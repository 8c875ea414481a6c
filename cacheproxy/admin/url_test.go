package admin

import (
	"strings"
	"testing"
)

// TestParseURL checks the parts of valid URLs and patterns; what is
// refused, and with which words, is in TestValidate, and the agreement
// with the CRD and kubectl-purge in cmd/kubectl-purge/internal/cli's
// urlrules_test.go.
func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want URL
	}{
		{"https://www.example.com/a.js?v=2", URL{"https", "www.example.com", "/a.js?v=2"}},
		{"HTTP://WWW.Example.COM:8080", URL{"http", "WWW.Example.COM:8080", ""}},
		{"https://www.example.com?x=1", URL{"https", "www.example.com", "?x=1"}},
		{"https://[2001:db8::1]:8443/a", URL{"https", "[2001:db8::1]:8443", "/a"}},
		{"https://*.example.com/img/*", URL{"https", "*.example.com", "/img/*"}},
		{"https://h/a@b/%7e?q=/x", URL{"https", "h", "/a@b/%7e?q=/x"}},
		{"https://h/" + strings.Repeat("\u00fc", MaxURLLength-len("https://h/")), URL{"https", "h", "/" + strings.Repeat("\u00fc", MaxURLLength-len("https://h/"))}},
	} {
		got, err := ParseURL(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestIsHostRootBan(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"https://www.example.com", true},
		{"https://www.example.com/", true},
		{"https://www.example.com/*", true},
		{"https://www.example.com/**", true},
		{"https://*/", true},
		{"https://www.example.com/img/", false},
		{"https://www.example.com/*.js", false},
		{"https://www.example.com?x=1", false},
		{"https://www.example.com*", true},
		{"https://[::1]:8443", true},
		{"https://www.example.com/?x=*", false},
		{"not a pattern", false},
		{"https://:80/", false},
		{"https://www.example.com/?", false},
		{"https://www.example.com/*?", false},
		{"https://www.example.com/%2A", false}, // a literal star: one page
		// Aliases of the root, as the cache resolves them.
		{"https://www.example.com/./", true},
		{"https://www.example.com/.", true},
		{"https://www.example.com/.//*", true},
		{"https://www.example.com//*", true},
		{"https://www.example.com//", true},
		{"https://www.example.com/%2E/", true},
		{"https://www.example.com/%2e%2E/*", true},
		{"https://www.example.com/img/..", true},
		{"https://www.example.com/img/../*", true},
		{"https://www.example.com/*/..", true},
		{"https://www.example.com/img/./", false},
		{"https://www.example.com/.well-known/", false},
		{"https://www.example.com/..?x", false},
	} {
		if got := IsHostRootBan(tc.pattern); got != tc.want {
			t.Errorf("IsHostRootBan(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}
