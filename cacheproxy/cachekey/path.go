package cachekey

import "strings"

// PathQuery returns the key form of "path?query" (no scheme, no
// authority, no fragment).
func PathQuery(s string) string { return pathQuery(s, false) }

// PatternPathQuery returns the key form of a ban pattern's path and query:
// as PathQuery, except that "%2A" stays encoded. In a pattern "*" is the
// wildcard and "%2A" a literal star, which keys hold as "*" (red team K3:
// a literal star could not be banned).
func PatternPathQuery(s string) string { return pathQuery(s, true) }

func pathQuery(s string, pattern bool) string {
	if s == "" {
		return "/"
	}
	if s[0] != '/' {
		s = "/" + s
	}
	if !pathNeedsWork(s) {
		return s
	}
	s = normalizeEscapes(s, pattern)
	path, query, _ := strings.Cut(s, "?")
	path = cleanPath(path)
	if query == "" {
		return path
	}
	return path + "?" + query
}

// pathNeedsWork reports whether PathQuery would change s (which
// starts with "/"); false keeps the common case free of allocations.
func pathNeedsWork(s string) bool {
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || MustEscape(s[i]) {
			return true
		}
		if s[i] == '?' && end == len(s) {
			end = i
		}
	}
	return end == len(s)-1 || hasAlias(s[:end])
}

// normalizeEscapes applies the percent-encoding equivalences to s, and
// decodes "%2A" unless s is a ban pattern's.
func normalizeEscapes(s string, pattern bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) || d == '*' && !pattern {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex(s[i+1]))
				b.WriteByte(upperHex(s[i+2]))
			}
			i += 2
		case MustEscape(c) || c == '%': // a '%' that starts no escape is a literal one
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

// MustEscape reports bytes that never appear literally in a URI.
func MustEscape(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return true
	}
	switch c {
	case '"', '#', '<', '>', '\\', '^', '`', '{', '|', '}':
		return true
	}
	return false
}

// Aliased reports whether the path of pq, a path and query as written
// (not yet in key form), holds a dot segment or an empty segment in any
// spelling: "/a/./b", "/a/../b", "/a//b", "/%2E%2e/". PathQuery resolves
// those, so pq names another path than it spells ("/img/../" is "/"). A
// final empty segment is none of them: "/a/" and "/a" are two objects.
func Aliased(pq string) bool {
	path, _, _ := strings.Cut(pq, "?")
	if strings.Contains(path, "%") {
		path = normalizeEscapes(path, false)
	}
	return hasAlias(path)
}
