package cachekey

import "strings"

// Host returns the key form of a Host header or URL authority.
func Host(h string) string {
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
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// hostNeedsWork reports whether Host would change h; it keeps the
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
