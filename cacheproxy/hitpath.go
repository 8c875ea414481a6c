package cacheproxy

import (
	"bytes"
	"hash/maphash"
	"runtime"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// The fast path's answer to a request h1request.go accepted: a fresh hit
// on the Vary variant the request selects, written as the object's
// rendered head (wirehead.go), Age and Cache-Status, and the body, with no
// allocation.
// Everything else (misses, stale copies, bans that apply, hosts not
// served, keys that need normalising) returns false, and the full handler
// answers it on the same connection (h1handler.go), exactly as
// serveCacheable always has. What the fast path writes is what
// serveCacheable's fresh-hit branch writes (TestFastPathMatchesHandler).

// serveFastHit answers req on c from the cache; false leaves it, unanswered,
// to the full handler.
func (p *Proxy) serveFastHit(c *h1conn, req *h1Request) bool {
	key, ok := appendHostKey(c.key[:0], req.host)
	if !ok {
		return false
	}
	c.key = key
	if !servedIn(p.hosts, key) {
		return false
	}
	if !fastTarget(req.target) {
		return false
	}
	key = append(key, req.target...)
	c.key = key
	sh := &p.store.shards[maphash.Bytes(p.store.seed, key)&p.store.mask]
	o, _ := lookupVariant(sh, key, func(fields []string) []byte {
		c.variant = appendVariantRaw(c.variant[:0], fields, req)
		return c.variant
	})
	if o == nil || p.bans.banned(o) {
		return false
	}
	now := p.now()
	if !o.fresh(now) {
		return false
	}
	if !o.fast {
		return false
	}
	if !o.visited.Load() {
		o.visited.Store(true)
	}
	p.metrics.count(outcomeHit)
	out := append(c.out, o.head()...)
	out = append(out, "Age: "...)
	out = appendInt(out, int64(o.age(now)/time.Second))
	out = append(out, "\r\nCache-Status: "...)
	if us := o.upstreamStatus(); us != "" {
		out = append(out, us...)
		out = append(out, ", "...)
	}
	out = cacheStatus{hit: true, ttl: o.ttl(now), hasTTL: true}.appendTo(out)
	out = append(out, "\r\n"...)
	if req.close {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	c.out = out
	if !req.head {
		c.writeBody(o.body)
		runtime.KeepAlive(o) // the body is in o's data (slab.go): written or copied by now
	}
	return true
}

// appendInt appends the decimal form of n (strconv.AppendInt, kept from
// escaping its buffer).
func appendInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// appendVariantRaw appends variantValues(fields, h) to dst, for the
// header h net/http would have read from req's field lines: the lines of
// each field (names compared without case, as net/http canonicalises them)
// combined with commas, list members trimmed, empty ones dropped, an absent
// field as 0x01, fields separated by NUL.
func appendVariantRaw(dst []byte, fields []string, req *h1Request) []byte {
	for i, name := range fields {
		if i > 0 {
			dst = append(dst, 0)
		}
		found, first := false, true
		for _, f := range req.fields[:req.nfields] {
			if !equalFold(f.name, name) {
				continue
			}
			found = true
			for rest := f.value; ; {
				part := rest
				i := bytes.IndexByte(rest, ',')
				if i >= 0 {
					part, rest = rest[:i], rest[i+1:]
				}
				if part = bytes.Trim(part, " \t"); len(part) > 0 {
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = append(dst, part...)
				}
				if i < 0 {
					break
				}
			}
		}
		if !found {
			dst = append(dst, 1) // absent differs from empty
		}
	}
	return dst
}

// equalFold compares b and s, ignoring ASCII letter case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendHostKey appends the key form of a Host value (cachekey.Host) to
// dst. It handles what the fast path's reader admits (letters, digits, '.',
// '-', ':', brackets); false for a port that is empty, not a number or
// has a leading zero, and for a second ':' outside brackets, which the full
// handler keys.
func appendHostKey(dst, h []byte) ([]byte, bool) {
	start := len(dst)
	for _, c := range h {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	host := dst[start:]
	colon := -1 // the port's separator: the last ':' not inside an IPv6 literal
	for i := len(host) - 1; i >= 0 && host[i] != ']'; i-- {
		if host[i] == ':' {
			colon = i
			break
		}
	}
	nameEnd, port := len(host), host[len(host):]
	if colon >= 0 {
		nameEnd, port = colon, host[colon+1:]
		if len(port) == 0 || len(port) > 1 && port[0] == '0' ||
			len(host) > 0 && host[0] != '[' && bytes.IndexByte(host[:colon], ':') >= 0 {
			return dst, false // an empty port, leading zeros, two ports: the full handler's
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return dst, false
			}
		}
	}
	for nameEnd > 0 && host[nameEnd-1] == '.' {
		nameEnd--
	}
	if len(port) == 0 || string(port) == "80" || string(port) == "443" {
		return dst[:start+nameEnd], true
	}
	n := copy(host[nameEnd:], host[colon:])
	return dst[:start+nameEnd+n], true
}

// fastTarget reports whether a request target is its own key form
// (cachekey.PathQuery would return it unchanged): no empty or dot segments
// and no empty query. It refuses any segment starting with a dot, a few
// more than it must. The reader already refused '%' and bytes outside
// visible ASCII.
func fastTarget(t []byte) bool {
	inPath := true
	for i, c := range t {
		if cachekey.MustEscape(c) {
			return false
		}
		switch {
		case c == '?':
			inPath = false
		case inPath && c == '/' && i+1 < len(t) && (t[i+1] == '/' || t[i+1] == '.'):
			return false
		}
	}
	return t[len(t)-1] != '?' // an empty query is dropped from the key
}
