package cacheproxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Freshness and storability, RFC 9111 §3 and §4.2 for a shared cache, with
// the stale-while-revalidate and stale-if-error extensions of RFC 5861.

// maxDelta is the largest delta-seconds value RFC 9111 §1.2.2 asks a cache
// to represent; larger values are clamped to it.
const maxDelta = 2147483648 * time.Second

// maxHeuristic caps heuristic freshness (10% of the time since
// Last-Modified, RFC 9111 §4.2.2).
const maxHeuristic = 24 * time.Hour

// cacheControl holds the Cache-Control directives a shared cache acts on.
type cacheControl struct {
	noStore, noCache, private, public  bool
	mustRevalidate, proxyRevalidate    bool
	hasMaxAge, hasSMaxAge              bool
	maxAge, sMaxAge                    time.Duration
	staleWhileRevalidate, staleIfError time.Duration
}

// parseCacheControl parses every Cache-Control field line. A directive given
// twice with different values, or with an invalid delta-seconds value,
// counts as zero, which RFC 9111 §4.2.1 encourages ("consider the response
// stale"). Qualified no-cache="x" and private="x" are treated as their
// unqualified forms: stricter than required, never wrong.
func parseCacheControl(lines []string) cacheControl {
	var cc cacheControl
	seen := map[string]string{}
	for _, line := range lines {
		for len(line) > 0 {
			var name, value string
			name, value, line = nextDirective(line)
			if name == "" {
				continue
			}
			if prev, dup := seen[name]; dup && prev != value {
				value = "0"
			}
			seen[name] = value
			switch name {
			case "no-store":
				cc.noStore = true
			case "no-cache":
				cc.noCache = true
			case "private":
				cc.private = true
			case "public":
				cc.public = true
			case "must-revalidate":
				cc.mustRevalidate = true
			case "proxy-revalidate":
				cc.proxyRevalidate = true
			case "max-age":
				cc.hasMaxAge, cc.maxAge = true, parseDelta(value)
			case "s-maxage":
				cc.hasSMaxAge, cc.sMaxAge = true, parseDelta(value)
			case "stale-while-revalidate":
				cc.staleWhileRevalidate = parseDelta(value)
			case "stale-if-error":
				cc.staleIfError = parseDelta(value)
			}
		}
	}
	return cc
}

// nextDirective cuts one "name[=value]" off a Cache-Control list, honouring
// quoted strings, and returns the lower-cased name, the unquoted value and
// the rest of the list.
func nextDirective(s string) (name, value, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := strings.IndexAny(s, "=,")
	if i < 0 {
		return strings.ToLower(strings.TrimSpace(s)), "", ""
	}
	name = strings.ToLower(strings.TrimSpace(s[:i]))
	if s[i] == ',' {
		return name, "", s[i+1:]
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		rest = s[min(j+1, len(s)):]
		if k := strings.IndexByte(rest, ','); k >= 0 {
			rest = rest[k+1:]
		} else {
			rest = ""
		}
		return name, b.String(), rest
	}
	if k := strings.IndexByte(s, ','); k >= 0 {
		return name, strings.TrimSpace(s[:k]), s[k+1:]
	}
	return name, strings.TrimSpace(s), ""
}

// parseDelta parses delta-seconds; invalid values are 0, huge ones clamped.
func parseDelta(v string) time.Duration {
	if v == "" {
		return 0
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > int64(maxDelta/time.Second) {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

// heuristicStatus lists the status codes RFC 9110 §15.1 defines as
// heuristically cacheable: storable without explicit freshness.
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// policy is what a response allows a shared cache to do with it.
type policy struct {
	// store is false when the response must not be stored; why says why.
	store bool
	why   string
	// lifetime is the freshness lifetime (RFC 9111 §4.2.1).
	lifetime time.Duration
	// swr and sie are the stale-while-revalidate and stale-if-error windows.
	swr, sie time.Duration
	// noCache: every use needs a successful revalidation first.
	noCache bool
	// noStale: once stale, never served without revalidation
	// (must-revalidate, proxy-revalidate, no-cache).
	noStale bool
}

// decide applies RFC 9111 §3 to a response to a GET. reqHeader is the
// client request's header; date is the response's Date (responseTime when
// absent).
func decide(reqHeader http.Header, status int, h http.Header, date time.Time) policy {
	cc, targeted := responseCacheControl(h)
	lifetime, explicit := freshnessLifetime(cc, targeted, status, h, date)
	p := policy{
		lifetime: lifetime,
		swr:      cc.staleWhileRevalidate,
		sie:      cc.staleIfError,
		noCache:  cc.noCache,
		noStale:  cc.noCache || cc.mustRevalidate || cc.proxyRevalidate,
	}
	p.why = whyForbidden(reqHeader, status, h, cc, explicit)
	if p.why == "" {
		p.why = whyUseless(h, cc, lifetime)
	}
	p.store = p.why == ""
	return p
}

// responseCacheControl returns the directives this cache obeys, and whether
// they came from CDN-Cache-Control. RFC 9213: a cache that honours that
// targeted field uses it, when the response has it, instead of
// Cache-Control and Expires, for every storage and freshness decision (as
// CDNs do); Cache-Control still reaches clients unchanged, for the caches
// after this one.
func responseCacheControl(h http.Header) (cc cacheControl, targeted bool) {
	if lines := h["Cdn-Cache-Control"]; hasDirective(lines) {
		return parseCacheControl(lines), true
	}
	return parseCacheControl(h["Cache-Control"]), false
}

// hasDirective reports whether the field lines hold anything but blanks
// and commas; an empty CDN-Cache-Control is no field at all.
func hasDirective(lines []string) bool {
	for _, l := range lines {
		if strings.Trim(l, " \t,") != "" {
			return true
		}
	}
	return false
}

// freshnessLifetime is the response's freshness lifetime (RFC 9111
// §4.2.1): s-maxage, else max-age, else Expires (not when the directives
// are CDN-Cache-Control's), else a heuristic for the status codes that
// allow one (§4.2.2). explicit is false for the heuristic, or when there is
// none.
func freshnessLifetime(cc cacheControl, targeted bool, status int, h http.Header, date time.Time) (lifetime time.Duration, explicit bool) {
	switch {
	case cc.hasSMaxAge:
		return cc.sMaxAge, true
	case cc.hasMaxAge:
		return cc.maxAge, true
	case len(h["Expires"]) > 0 && !targeted:
		// Invalid (or given twice) means already expired (RFC 9111 §5.3).
		if exp, ok := headerDate(h, "Expires"); ok && exp.After(date) {
			return min(exp.Sub(date), maxDelta), true
		}
		return 0, true
	}
	if lm, ok := headerDate(h, "Last-Modified"); ok && heuristicStatus(status) && lm.Before(date) {
		return min(date.Sub(lm)/10, maxHeuristic), false
	}
	return 0, false
}

// whyForbidden returns why a shared cache must not (or, for Set-Cookie,
// this one will not) store the response, or "" when it may (RFC 9111 §3,
// §3.5).
func whyForbidden(reqHeader http.Header, status int, h http.Header, cc cacheControl, explicit bool) string {
	switch {
	case status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified:
		return "status"
	case !heuristicStatus(status) && !explicit && !cc.public:
		return "status"
	case cc.noStore || parseCacheControl(reqHeader["Cache-Control"]).noStore:
		return "no-store"
	case cc.private:
		return "private"
	case reqHeader.Get("Authorization") != "" && !cc.public && !cc.hasSMaxAge && !cc.mustRevalidate:
		return "authorization"
	case len(h["Set-Cookie"]) > 0:
		return "set-cookie"
	}
	return ""
}

// whyUseless returns why a response that may be stored would be of no use
// stored, or "": no request can match it (Vary: *, RFC 9111 §4.1), or it
// may never be served without revalidation (no-cache) or is stale on
// arrival, and offers no validator to revalidate it with (nor, when stale,
// a stale-if-error window).
func whyUseless(h http.Header, cc cacheControl, lifetime time.Duration) string {
	hasValidator := h.Get("Etag") != "" || h.Get("Last-Modified") != ""
	switch {
	case varyStar(h):
		return "vary"
	case cc.noCache && !hasValidator:
		return "no-cache"
	case lifetime <= 0 && !hasValidator && cc.staleIfError == 0:
		return "stale"
	}
	return ""
}

// initialAge is corrected_initial_age of RFC 9111 §4.2.3.
func initialAge(h http.Header, requestTime, responseTime, date time.Time) time.Duration {
	apparent := max(responseTime.Sub(date), 0)
	ageValue := parseDelta(firstAgeMember(h))
	corrected := ageValue + max(responseTime.Sub(requestTime), 0)
	return max(apparent, corrected)
}

// firstAgeMember returns the first member of the Age field: a list value
// (several lines, or commas) is an error RFC 9111 §5.1 resolves by taking
// the first member. An invalid value counts as no Age (parseDelta → 0).
func firstAgeMember(h http.Header) string {
	lines := h["Age"]
	if len(lines) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(lines[0], ",")
	return strings.Trim(first, " \t")
}

// responseDate returns the response's Date, or responseTime when it has none
// or an invalid one.
func responseDate(h http.Header, responseTime time.Time) time.Time {
	if d, ok := headerDate(h, "Date"); ok {
		return d
	}
	return responseTime
}
