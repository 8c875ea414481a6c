package cacheproxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Cache keys.
//
// An object's primary key is its normalised host followed by its normalised
// path and query: "www.example.com/img/a.png?v=2". The scheme is not part of
// the key, so http:// and https:// name the same object.
//
// Host: lowercased, a trailing dot dropped ("Example.COM." → "example.com"),
// and the ports 80 and 443 dropped whatever the scheme, because with the
// scheme out of the key they are both "the default port"; any other port is
// kept ("example.com:8443"). IPv6 literals keep their brackets.
//
// Host ports are numbers: leading zeros are dropped ("example.com:080" is
// "example.com").
//
// Path and query: the equivalences of RFC 3986 §6.2.2, then the aliases
// common origins serve as one resource (red team C7): percent-encodings use
// upper-case hex ("%2f" → "%2F"), encoded unreserved characters are decoded
// ("%7E" → "~", "%41" → "A"), bytes that may never appear literally in a
// URI (controls, space, non-ASCII, `"#<>\^{|}`, backtick, and a '%'
// that starts no escape) are percent-encoded; in the path, dot segments are resolved (RFC 3986 §5.2.4:
// "/a/./b/../c" → "/a/c") and runs of slashes merged ("/a//b" → "/a/b");
// an empty query is dropped ("/a?" → "/a"). An empty path is "/". The
// query is not reordered, and "%2F" stays apart from "/".
//
// The origin is asked for the key's path and query (Proxy.rewrite), so a
// key names exactly what the origin was asked for, and every spelling of a
// URL is one object: a purge of the canonical URL removes what any alias
// stored. Requests, purge URLs and ban patterns all go through these
// functions.

// The schemes the proxy serves and accepts in URLs. Neither is part of a
// key: both name the same object.
const (
	schemeHTTP  = "http"
	schemeHTTPS = "https"
)

// normalizeHost returns the key form of a Host header or URL authority.
func normalizeHost(h string) string {
	if !hostNeedsWork(h) {
		return h
	}
	h = asciiLower(h)
	// Split a port off, minding IPv6 literals; a name with a ':' of its own
	// is no host name, and is kept whole.
	hostPart, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") &&
		(strings.HasPrefix(h, "[") || !strings.Contains(h[:i], ":")) {
		hostPart, port = h[:i], h[i+1:]
	}
	hostPart = strings.TrimRight(hostPart, ".")
	if len(port) > 1 && port[0] == '0' && strings.Trim(port, "0123456789") == "" {
		port = strings.TrimLeft(port, "0")
	}
	switch port {
	case "", "80", "443":
		return hostPart
	}
	return hostPart + ":" + port
}

// asciiLower lower-cases the ASCII letters of s and leaves every other
// byte alone (strings.ToLower would turn invalid UTF-8 into U+FFFD).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return string(b)
}

// hostNeedsWork reports whether normalizeHost would change h; it keeps the
// common case (an already lower-case host without port) free of allocations.
func hostNeedsWork(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if ('A' <= c && c <= 'Z') || c == ':' {
			return true
		}
	}
	return h[len(h)-1] == '.'
}

// normalizePathQuery returns the key form of "path?query" (no scheme, no
// authority, no fragment).
func normalizePathQuery(s string) string {
	if s == "" {
		return "/"
	}
	if s[0] != '/' {
		s = "/" + s
	}
	if !pathNeedsWork(s) {
		return s
	}
	s = normalizeEscapes(s)
	path, query, _ := strings.Cut(s, "?")
	path = cleanPath(path)
	if query == "" {
		return path
	}
	return path + "?" + query
}

// pathNeedsWork reports whether normalizePathQuery would change s (which
// starts with "/"); false keeps the common case free of allocations.
func pathNeedsWork(s string) bool {
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || mustEscape(s[i]) {
			return true
		}
		if s[i] == '?' && end == len(s) {
			end = i
		}
	}
	return end == len(s)-1 || hasAlias(s[:end])
}

// normalizeEscapes applies the percent-encoding equivalences to s.
func normalizeEscapes(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex(s[i+1]))
				b.WriteByte(upperHex(s[i+2]))
			}
			i += 2
		case mustEscape(c) || c == '%': // a '%' that starts no escape is a literal one
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cleanPath resolves the dot segments of an absolute path and merges runs
// of slashes; a path that ended in a slash or a dot segment keeps its
// trailing slash ("/a/b/.." → "/a/").
func cleanPath(path string) string {
	if !hasAlias(path) {
		return path
	}
	segs := make([]string, 0, strings.Count(path, "/"))
	trailing := false
	for seg := range strings.SplitSeq(path[1:], "/") {
		trailing = true
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
			trailing = false
		}
	}
	if len(segs) == 0 {
		return "/"
	}
	if trailing {
		segs = append(segs, "")
	}
	return "/" + strings.Join(segs, "/")
}

// hasAlias reports whether an absolute path holds an empty or dot segment
// other than a final empty one ("/a/" is not an alias of "/a").
func hasAlias(path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		switch rest := path[i+1:]; {
		case strings.HasPrefix(rest, "/"), rest == ".", rest == "..",
			strings.HasPrefix(rest, "./"), strings.HasPrefix(rest, "../"):
			return true
		}
	}
	return false
}

const hexDigits = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved reports RFC 3986 unreserved characters, whose encoded and
// literal forms are equivalent.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// mustEscape reports bytes that never appear literally in a URI.
func mustEscape(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return true
	}
	switch c {
	case '"', '#', '<', '>', '\\', '^', '`', '{', '|', '}':
		return true
	}
	return false
}

// requestKey returns the normalised host and primary key of a client request.
func requestKey(r *http.Request) (host, key string) {
	host = normalizeHost(r.Host)
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		// Absolute-form ("GET http://host/p HTTP/1.1"), or a request built
		// in-process: take the parsed form.
		uri = r.URL.RequestURI()
	}
	return host, host + normalizePathQuery(uri)
}

// targetPathQuery is the key form of r's path and query: what the origin
// is asked for.
func targetPathQuery(r *http.Request) string {
	host, key := requestKey(r)
	return key[len(host):]
}

// setTarget points u at the key form pq of a path and query, so the origin
// is asked for exactly what the key names.
func setTarget(u *url.URL, pq string) {
	path, query, _ := strings.Cut(pq, "?")
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return // not from a parsed request: leave it as it was
	}
	u.Path, u.RawPath, u.RawQuery, u.ForceQuery = unescaped, path, query, false
}

// urlKey parses a purge URL or a ban pattern (admin.ParseURL: one grammar
// for both) into key form, normalised as client requests are: the
// normalised host, and the key it names, or, for a ban, the key-form
// pattern with its "*"s. The scheme is no part of either.
// urlKey("HTTPS://WWW.Example.com:443/a%7eb") is "www.example.com",
// "www.example.com/a~b".
func urlKey(raw string) (host, key string, err error) {
	u, err := admin.ParseURL(raw)
	if err != nil {
		return "", "", err
	}
	host = normalizeHost(u.Authority)
	return host, host + normalizePathQuery(u.PathQuery), nil
}

// keyHost returns the host part of a primary key.
func keyHost(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}
