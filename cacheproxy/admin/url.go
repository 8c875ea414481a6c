package admin

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Purge URLs and ban patterns.
//
// Both follow one grammar, defined here and nowhere else in Go:
//
//	url       = scheme "://" authority [ ( "/" / "?" ) rest ]
//	scheme    = "http" / "https", in any letter case
//	authority = host [ ":" port ]
//	host      = 1*( letter / digit / "-" / "." / "_" / "~" / "*" )
//	          / "[" 1*( hex digit / ":" / "." ) "]"          an IPv6 literal
//	port      = 1*5( digit / "*" )
//	rest      = *( any character but an ASCII control, a space, "#" or "%"
//	               / "%" hex digit hex digit )
//
// of at most MaxURLLength characters; "*" is a ban's wildcard and is
// refused in a URL: either writes a literal star "%2A", which names the
// object a client asked for with "*" or "%2A" alike. It refuses what a cache could never match: user info
// and #fragments never reach a cache, a request line cannot carry spaces,
// controls or a broken %-escape, and a Host header holds a host name or
// an IP literal with a numeric port. Non-ASCII characters are kept (the
// key percent-encodes them, as browsers do).
//
// The CRD restates the grammar in CEL (the x-kubernetes-validations on
// Purge.spec.urls, api/v1alpha1/purge_types.go), kubectl-purge calls this
// package, and the proxy parses with ParseURL; one table test
// (cmd/kubectl-purge/internal/cli/urlrules_test.go) runs the same URLs,
// ban patterns and tags through the API server, this package and the
// plugin and requires the same answers.

// wildcard is the ban patterns' "any run of characters".
const wildcard = "*"

// URL is a purge URL or ban pattern cut into the parts a cache key is
// made of, as written; BanPath gives a ban's path in key form.
type URL struct {
	// Scheme is "http" or "https", lower case.
	Scheme string
	// Authority is the host and port as written: "WWW.example.com:8443",
	// "[2001:db8::1]", "*.example.com" in a ban.
	Authority string
	// PathQuery is everything from the first "/" or "?" after the
	// authority on: "/a.js?v=2", "?x=1", or "" for none.
	PathQuery string
}

// ParseURL checks raw against the grammar common to URLs and ban
// patterns ("*" allowed) and cuts it into its parts. Its errors name
// what is wrong in words a person can act on.
func ParseURL(raw string) (URL, error) {
	if n := utf8.RuneCountInString(raw); n > MaxURLLength {
		return URL{}, fmt.Errorf("%d characters, at most %d allowed", n, MaxURLLength)
	}
	if strings.ContainsFunc(raw, isControlOrSpace) {
		return URL{}, fmt.Errorf("%q contains a space or a control character; write a space as %%20", raw)
	}
	if strings.Contains(raw, "#") {
		return URL{}, fmt.Errorf("%q has a #fragment, which browsers never send; remove it", raw)
	}
	var u URL
	var rest string
	for _, scheme := range [...]string{"http", "https"} {
		p := scheme + "://"
		if len(raw) >= len(p) && strings.EqualFold(raw[:len(p)], p) {
			u.Scheme, rest = scheme, raw[len(p):]
		}
	}
	if u.Scheme == "" {
		return URL{}, fmt.Errorf("%q is not an absolute http:// or https:// URL such as https://www.example.com/app.js", raw)
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	u.Authority, u.PathQuery = rest[:end], rest[end:]
	if err := checkAuthority(u.Authority); err != nil {
		return URL{}, fmt.Errorf("%q %w", raw, err)
	}
	for i, pq := 0, u.PathQuery; i < len(pq); i++ {
		if pq[i] == '%' && (i+2 >= len(pq) || !isHex(pq[i+1]) || !isHex(pq[i+2])) {
			return URL{}, fmt.Errorf("%q has a %% that does not start a %%XX escape of two hex digits; write %% itself as %%25", raw)
		}
	}
	return u, nil
}

// checkAuthority checks a host with an optional port; its errors follow
// the URL in the message.
func checkAuthority(a string) error {
	if strings.Contains(a, "@") {
		return errors.New("carries user info, which caches never see")
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return errors.New("has an IPv6 literal without its closing ]")
		}
		host, port = a[:end+1], a[end+1:]
		if port != "" && port[0] != ':' {
			return fmt.Errorf("has %q after its IPv6 literal; only a :port may follow", port)
		}
		if strings.Trim(host[1:end], "0123456789abcdefABCDEF:.") != "" || end == 1 {
			return fmt.Errorf("has an IPv6 literal %s of other characters than hex digits, ':' and '.'", host)
		}
	} else if i := strings.IndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if host == "" {
		return errors.New("has no host")
	}
	if port != "" && (len(port) < 2 || len(port) > 6 || strings.Trim(port[1:], "0123456789*") != "") {
		return fmt.Errorf("has port %q; a port is 1 to 5 digits (or '*' in a ban)", port[1:])
	}
	if host[0] != '[' && strings.ContainsFunc(host, func(r rune) bool { return !isHostChar(r) }) {
		return fmt.Errorf("has host %q; a host holds only letters, digits, '-', '.', '_' and '~' (and '*' in a ban), or is an [IPv6] literal", host)
	}
	return nil
}

// isHostChar reports the characters of a host name: RFC 3986's
// unreserved characters, and the ban wildcard.
func isHostChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~' || r == '*'
}

// isControlOrSpace reports the ASCII controls and the space: no request
// line or header carries them, so a URL or tag holding one names nothing
// a cache could have stored.
func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ValidateURL accepts a purge URL: the grammar above, without "*".
func ValidateURL(raw string) error {
	if _, err := ParseURL(raw); err != nil {
		return err
	}
	if strings.Contains(raw, wildcard) {
		return fmt.Errorf("%q contains '*': wildcards are for ban patterns", raw)
	}
	return nil
}

// ValidateBanPattern accepts a ban pattern: the grammar above, where "*"
// stands for any run of characters. The pattern is a prefix:
// "https://example.com/img/" bans everything under /img/.
//
// Its path must be written as the cache reads it: no "." or ".." segment
// (also spelt %2E) and no "//". The cache resolves them before matching
// (cachekey.PathQuery), so "https://example.com/img/../" would ban the
// whole host while reading as a ban of /img/; refusing them, with the
// spelling to write instead, keeps what a pattern covers visible to
// whoever reads it, and lets the CRD's rule, which cannot resolve dot
// segments, see a host-root ban for what it is.
func ValidateBanPattern(pattern string) error {
	u, err := ParseURL(pattern)
	if err != nil {
		return err
	}
	if cachekey.Aliased(u.PathQuery) {
		return fmt.Errorf("%q has a '.' or '..' segment or '//' in its path, which the cache resolves before matching; write the pattern it would read: %q",
			pattern, u.Scheme+"://"+u.Authority+u.BanPath())
	}
	return nil
}

// ValidateWildcardHosts refuses more than MaxWildcardHostPatterns ban
// patterns with a "*" in the host or port ("https://*.example.com/img/"):
// each costs every cache a pass over all it stores.
func ValidateWildcardHosts(patterns []string) error {
	n := 0
	for _, p := range patterns {
		if u, err := ParseURL(p); err == nil && strings.Contains(u.Authority, wildcard) {
			n++
		}
	}
	if n > MaxWildcardHostPatterns {
		return fmt.Errorf("%d ban patterns have a '*' in the host, at most %d allowed in one purge: each costs every cache pod a pass over all it stores; split them into several purges",
			n, MaxWildcardHostPatterns)
	}
	return nil
}

// BanPath returns the path and query of a ban pattern in key form
// (cachekey.PatternPathQuery), as the cache matches it: a prefix of the
// path and query of the keys it bans, in which "*" is the wildcard and
// "%2A" a literal star. A final "?", an empty query that PathQuery drops,
// is kept: "https://example.com/a?" bans /a's URLs with a query.
func (u URL) BanPath() string {
	pq := cachekey.PatternPathQuery(u.PathQuery)
	if strings.HasSuffix(u.PathQuery, "?") && !strings.Contains(pq, "?") {
		pq += "?"
	}
	return pq
}

// IsHostRootBan reports whether a ban pattern matches a whole host as the
// cache reads it (BanPath): "https://www.example.com",
// "https://www.example.com/" or "https://www.example.com/*", and their
// aliases such as "https://www.example.com/./" or
// "https://www.example.com//*" (which ValidateBanPattern refuses). Such a
// ban empties the host from the cache and sends all its traffic to the
// origin. A query on the root page ("https://www.example.com?x=1") is no
// host-root ban.
func IsHostRootBan(pattern string) bool {
	u, err := ParseURL(pattern)
	if err != nil {
		return false
	}
	return strings.Trim(strings.TrimPrefix(u.BanPath(), "/"), wildcard) == ""
}
