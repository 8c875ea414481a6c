package cacheproxy

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The head of a fill's request, written straight from the client's
// request for the origin client (originclient.go): the bytes
// appendRequestHead writes for the request fillRequest builds, without
// building it. fillRequest copies the request, its URL and its header,
// then edits the copy (hop-by-hop fields, X-Forwarded-*, Via, the
// conditions): about a dozen allocations per miss, for a head that is
// written once and dropped. Here each of the client's fields is written or
// skipped by the same rules, and the fields the proxy adds are written
// after them. TestFillHeadMatchesFillRequest holds the two to the same
// bytes (up to the order of fields, which a map never had).
//
// Fills of an origin URL with a path or query of its own, and requests
// whose target is not origin-form, take fillRequest's way.

// fillTarget is the request target of a fill for in: its path and query
// in key form (so the origin is asked for exactly what the key names, as
// setTarget does), or ok false when fillRequest must build it.
func fillTarget(in *http.Request) (path, query string, ok bool) {
	if in.RequestURI == "*" {
		return "", "", false
	}
	pq := targetPathQuery(in)
	rawPath, query, _ := strings.Cut(pq, "?")
	unescaped, err := url.PathUnescape(rawPath)
	if err != nil {
		return "", "", false
	}
	// What rewrite's SetURL and RequestURI make of it with an origin
	// without a path: the escaped path, "/" first.
	u := url.URL{Path: unescaped, RawPath: rawPath}
	path = u.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return path, query, true
}

// directFills reports whether fills of origin may have their head written
// by appendFillHead: an http:// origin without a path or query of its own.
func directFills(origin *url.URL) bool {
	return origin.Scheme == schemeHTTP && (origin.Path == "" || origin.Path == "/") && origin.RawPath == "" &&
		origin.RawQuery == "" && !origin.ForceQuery
}

// appendHead appends the head of the fill's request (f.in, f.target),
// and marks the fill conditional when it sends the stale copy's
// validators (prepare).
func (f *fill) appendHead(b []byte) ([]byte, error) {
	p, in := f.p, f.in
	host := in.Host
	if p.cfg.RewriteHost || host == "" {
		host = p.cfg.Origin.Host
	}
	host = strings.TrimSuffix(host, ":")
	if !httpguts.ValidHostHeader(host) {
		return nil, fmt.Errorf("origin request: invalid Host %q", host)
	}
	b = append(b, "GET "...)
	b = append(b, f.targetPath...)
	if f.targetQuery != "" {
		b = append(b, '?')
		b = append(b, f.targetQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	h := in.Header
	conn := h["Connection"]
	if ua := h["User-Agent"]; len(ua) > 0 && ua[0] != "" && !namedBy(conn, "User-Agent") {
		b = appendField(b, "User-Agent", ua[0])
	}
	for name, values := range h {
		if skipFillField(name) || namedBy(conn, name) {
			continue
		}
		var err error
		if b, err = appendRequestField(b, name, values); err != nil {
			return nil, err
		}
	}
	// What fillRequest adds: Te, X-Forwarded-* and Via as rewrite sets
	// them (ReverseProxy's SetXForwarded), the stale copy's validators.
	if httpguts.HeaderValuesContainsToken(h["Te"], "trailers") {
		b = append(b, "Te: trailers\r\n"...)
	}
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if err := checkRequestField(fieldXForwardedFor, []string{ip}); err != nil {
			return nil, err
		}
		b = appendField(b, fieldXForwardedFor, ip)
	}
	if err := checkRequestField("X-Forwarded-Host", []string{in.Host}); err != nil {
		return nil, err
	}
	b = appendField(b, "X-Forwarded-Host", in.Host)
	if in.TLS == nil {
		b = append(b, "X-Forwarded-Proto: http\r\n"...)
	} else {
		b = append(b, "X-Forwarded-Proto: https\r\n"...)
	}
	b = append(b, "Via: "...)
	b = append(b, viaValue(in)...)
	b = append(b, ' ')
	b = append(b, p.via...)
	b = append(b, "\r\n"...)
	if s := f.stale; s != nil && s.hasValidator() {
		f.conditional = true
		// Copied into b: the values are in the stale copy's data.
		if etag := s.etag(); etag != "" {
			b = appendField(b, "If-None-Match", etag)
		}
		if lm := s.lastModified(); lm != "" {
			b = appendField(b, "If-Modified-Since", lm)
		}
	}
	return append(b, "\r\n"...), nil
}

// skipFillField reports whether a field of the client's request is not
// forwarded by a fill: hop-by-hop, the client's own X-Forwarded-* and
// Forwarded (replaced by the proxy's), its conditions and range (the
// cache wants the whole representation) and the unkeyed overrides
// (fill.go). Via is written with the proxy's member appended.
func skipFillField(name string) bool {
	switch name {
	case "Forwarded", fieldXForwardedFor, "X-Forwarded-Host", fieldXForwardedProto:
		return true
	}
	for _, list := range [...][]string{hopByHopFields[:], conditionalFields[:], unkeyedOverrides[:]} {
		for _, n := range list {
			if n == name {
				return true
			}
		}
	}
	return false
}

// namedBy reports whether a Connection field names the field name (which
// makes it hop-by-hop: removeHopByHopFields drops it).
func namedBy(connection []string, name string) bool {
	for _, v := range connection {
		for token := range strings.SplitSeq(v, ",") {
			// Equal lengths keep EqualFold to ASCII folds (as canonical
			// names compare): a non-ASCII rune that folds to a letter is
			// longer than it.
			if token = strings.Trim(token, " \t"); len(token) == len(name) && strings.EqualFold(token, name) {
				return true
			}
		}
	}
	return false
}
