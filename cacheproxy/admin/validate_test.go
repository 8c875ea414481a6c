package admin

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := InvalidationRequest{ID: "uid/1", Mode: ModeSimple, URLs: []string{"https://www.example.com/a.js"}}
	for _, tc := range []struct {
		name string
		edit func(*InvalidationRequest)
		err  string // "" means valid
	}{
		{"valid simple", func(r *InvalidationRequest) {}, ""},
		{"valid soft with tags and refetch", func(r *InvalidationRequest) { r.Mode = ModeSoft; r.Tags = []string{"p-42"}; r.Refetch = true }, ""},
		{"valid tags only", func(r *InvalidationRequest) { r.URLs = nil; r.Tags = []string{"p-42"} }, ""},
		{"valid ban", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://www.example.com/img/*"} }, ""},
		{"valid dry run", func(r *InvalidationRequest) { r.DryRun = true }, ""},
		{"no id", func(r *InvalidationRequest) { r.ID = "" }, "id: required"},
		{"long id", func(r *InvalidationRequest) { r.ID = strings.Repeat("x", MaxIDLength+1) }, "id: 257 bytes"},
		{"no mode", func(r *InvalidationRequest) { r.Mode = "" }, "mode: required"},
		{"unknown mode", func(r *InvalidationRequest) { r.Mode = "PURGE" }, `unknown mode "PURGE"`},
		{"nothing to do", func(r *InvalidationRequest) { r.URLs = nil }, "at least one URL or tag"},
		{"too many URLs", func(r *InvalidationRequest) { r.URLs = make([]string, MaxURLs+1) }, "urls: 1001 given"},
		{"too many tags", func(r *InvalidationRequest) { r.Tags = make([]string, MaxTags+1) }, "tags: 1001 given"},
		{"tags with ban", func(r *InvalidationRequest) { r.Mode = ModeBan; r.Tags = []string{"t"} }, "tags: not allowed with mode ban"},
		{"refetch with ban", func(r *InvalidationRequest) { r.Mode = ModeBan; r.Refetch = true }, "refetch: not allowed"},
		{"relative URL", func(r *InvalidationRequest) { r.URLs = []string{"/a.js"} }, "urls[0]"},
		{"ftp URL", func(r *InvalidationRequest) { r.URLs = []string{"ftp://h/a"} }, "not an absolute"},
		{"no host", func(r *InvalidationRequest) { r.URLs = []string{"https:///a"} }, "no host"},
		{"port only", func(r *InvalidationRequest) { r.URLs = []string{"https://:443/a"} }, "no host"},
		{"user info", func(r *InvalidationRequest) { r.URLs = []string{"https://u:p@h/a"} }, "user info"},
		{"fragment", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a#x"} }, "fragment"},
		{"empty fragment", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a#"} }, "fragment"},
		{"control char", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a\x01"} }, "control character"},
		{"space", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a b"} }, "write a space as %20"},
		{"wildcard in a URL", func(r *InvalidationRequest) { r.URLs = []string{"https://h/*.js"} }, "wildcards are for ban patterns"},
		{"port not a number", func(r *InvalidationRequest) { r.URLs = []string{"https://h:abc/"} }, `has port "abc"`},
		{"empty port", func(r *InvalidationRequest) { r.URLs = []string{"https://h:/"} }, `has port ""`},
		{"host character", func(r *InvalidationRequest) { r.URLs = []string{"https://exa^mple.com/"} }, `has host "exa^mple.com"`},
		{"broken escape", func(r *InvalidationRequest) { r.URLs = []string{"https://h/%zz"} }, "%XX escape"},
		{"escape cut short", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a%4"} }, "%XX escape"},
		{"IPv6 literal", func(r *InvalidationRequest) { r.URLs = []string{"https://[2001:db8::1]:8443/a"} }, ""},
		{"IPv6 literal unclosed", func(r *InvalidationRequest) { r.URLs = []string{"https://[::1/a"} }, "closing ]"},
		{"IPv6 literal not hex", func(r *InvalidationRequest) { r.URLs = []string{"https://[::g]/a"} }, "of other characters than hex digits"},
		{"IPv6 literal then junk", func(r *InvalidationRequest) { r.URLs = []string{"https://[::1]x/a"} }, "only a :port"},
		{"non-ASCII path", func(r *InvalidationRequest) { r.URLs = []string{"https://h/\u00fc"} }, ""},
		{"long URL", func(r *InvalidationRequest) { r.URLs = []string{"https://h/" + strings.Repeat("a", MaxURLLength)} }, "at most 2048"},
		{"second URL bad", func(r *InvalidationRequest) { r.URLs = append(r.URLs, "nope") }, "urls[1]"},
		{"empty tag", func(r *InvalidationRequest) { r.Tags = []string{""} }, "tags[0]: empty tag"},
		{"tag with space", func(r *InvalidationRequest) { r.Tags = []string{"a b"} }, "a space"},
		{"tag with a control", func(r *InvalidationRequest) { r.Tags = []string{"a\vb"} }, "control character"},
		{"tag of 256 non-ASCII characters", func(r *InvalidationRequest) { r.Tags = []string{strings.Repeat("\u00fc", MaxTagLength)} }, ""},
		{"tag with comma", func(r *InvalidationRequest) { r.Tags = []string{"a,b"} }, "comma"},
		{"long tag", func(r *InvalidationRequest) { r.Tags = []string{strings.Repeat("t", MaxTagLength+1)} }, "at most 256"},
		{"ban without scheme", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"www.example.com/"} }, "not an absolute http:// or https://"},
		{"ban without host", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https:///img"} }, "no host"},
		{"ban query without host", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://?q=1"} }, "no host"},
		{"ban port without host", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://:80/"} }, "no host"},
		{"ban user info", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://u@h/"} }, "user info"},
		{"ban whitespace", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h/a b"} }, "a space"},
		{"ban wildcard host", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://*.h/a*"} }, ""},
		{"ban broken escape", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h/%*"} }, "%XX escape"},
		{"ban dot segment", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h/img/../*"} }, `in its path, which the cache resolves before matching; write the pattern it would read: "https://h/*"`},
		{"ban empty segment", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h//a?"} }, `write the pattern it would read: "https://h/a?"`},
		{"ban encoded dot segment", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h/a/%2E/b"} }, `"https://h/a/b"`},
		{"URL with dot segments", func(r *InvalidationRequest) { r.URLs = []string{"https://h/a/../b//c"} }, ""},
		{"16 wildcard-host bans", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = wildcardHosts(MaxWildcardHostPatterns) }, ""},
		{"17 wildcard-host bans", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = wildcardHosts(MaxWildcardHostPatterns + 1) },
			"urls: 17 ban patterns have a '*' in the host, at most 16 allowed in one purge"},
		{"17 URLs of literal hosts and ports", func(r *InvalidationRequest) {
			r.Mode = ModeBan
			for _, u := range wildcardHosts(MaxWildcardHostPatterns + 1) {
				r.URLs = append(r.URLs, strings.ReplaceAll(u, "*", "1"))
			}
		}, ""},
		{"ban fragment", func(r *InvalidationRequest) { r.Mode = ModeBan; r.URLs = []string{"https://h/a#b"} }, "fragment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			r.URLs = append([]string(nil), ok.URLs...)
			tc.edit(&r)
			err := r.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Validate: %v, want valid", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// wildcardHosts is n ban patterns with a "*" in the host, or in the port.
func wildcardHosts(n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://*.example%d.com/img/", i)
		if i%2 == 1 {
			urls[i] = fmt.Sprintf("https://example%d.com:8*/img/", i)
		}
	}
	return urls
}
