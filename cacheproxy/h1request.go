package cacheproxy

import "bytes"

// The fast path's HTTP/1.1 request reader.
//
// It reads a request head in place, without allocating, and accepts only a
// strict subset of HTTP/1.1: the requests a cache hit can answer. Anything
// else is not rejected here but handed, with every byte read so far, to
// net/http (h1server.go), which answers it as it always has: errors,
// request smuggling defences, bodies, upgrades, HTTP/1.0, large heads. So
// the fast path never has its own opinion on a malformed or ambiguous
// request; it only has to be right that what it accepts, net/http would
// have read the same way (FuzzParseH1Request checks that against
// http.ReadRequest).
//
// Accepted: "GET" or "HEAD", an origin-form target of visible ASCII without
// '%' (decoding is net/http's business), exactly "HTTP/1.1", CRLF line
// ends, header names of token characters followed directly by ':', values
// of visible ASCII, obs-text, space and tab, exactly one Host of host
// characters, and a Connection of "close" or "keep-alive" only. Handed off:
// any Content-Length or Transfer-Encoding (no body, so no CL/TE ambiguity
// to resolve), obs-fold, bare CR or LF, Expect, Upgrade, Range and
// conditional requests (If-*), and any head longer than the buffer.

// h1Verdict is what the reader makes of the bytes it was given.
type h1Verdict int

const (
	// h1Incomplete: no complete head yet, and nothing that rules the fast
	// path out; read more.
	h1Incomplete h1Verdict = iota
	// h1Fast: a complete head the fast path may answer.
	h1Fast
	// h1HandOff: net/http must read this request (and the rest of the
	// connection).
	h1HandOff
)

func (v h1Verdict) String() string {
	switch v {
	case h1Incomplete:
		return "incomplete"
	case h1Fast:
		return "fast"
	case h1HandOff:
		return "hand-off"
	}
	return unknownName
}

// h1Request is a request head read in place: its slices point into the
// connection's buffer and are valid until the next read.
type h1Request struct {
	head   bool   // HEAD rather than GET
	target []byte // origin-form request target: path and query
	host   []byte // the Host field's value
	close  bool   // Connection: close
	// fields are the header fields other than Host (net/http moves Host
	// out of Request.Header too), in order, for Vary (appendVariantRaw).
	fields  [h1MaxFields]h1Field
	nfields int
}

// h1Field is one header field line, name and trimmed value.
type h1Field struct{ name, value []byte }

// h1MaxFields is the most header fields a fast request may have; more go
// to net/http.
const h1MaxFields = 32

// parseH1Request reads one request head from the start of buf. On h1Fast,
// n is the length of the head including its blank line.
func parseH1Request(buf []byte, req *h1Request) (n int, v h1Verdict) {
	req.head, req.target, req.host, req.close, req.nfields = false, nil, nil, false, 0
	line, rest, v := nextLine(buf)
	if v != h1Fast {
		if v == h1Incomplete && !requestLinePrefixOK(buf) {
			return 0, h1HandOff
		}
		return 0, v
	}
	if !req.setRequestLine(line) {
		return 0, h1HandOff
	}
	// Header fields, up to the blank line.
	for {
		line, rest, v = nextLine(rest)
		if v != h1Fast {
			return 0, v
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok || !req.addField(name, value) {
			return 0, h1HandOff
		}
	}
	if req.host == nil {
		return 0, h1HandOff
	}
	return len(buf) - len(rest), h1Fast
}

// setRequestLine reads "GET|HEAD <target> HTTP/1.1"; false hands it off.
func (req *h1Request) setRequestLine(line []byte) bool {
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		line = line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		req.head = true
		line = line[5:]
	default:
		return false
	}
	target, ok := bytes.CutSuffix(line, []byte(" HTTP/1.1"))
	if !ok || len(target) == 0 || target[0] != '/' {
		return false
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f || c == '%' {
			return false
		}
	}
	req.target = target
	return true
}

// addField records one header field; false hands the request off.
func (req *h1Request) addField(name, value []byte) bool {
	action := fieldAction(name)
	if action != actionHost {
		if req.nfields == h1MaxFields {
			return false
		}
		req.fields[req.nfields] = h1Field{name: name, value: value}
		req.nfields++
	}
	switch action {
	case actionHost:
		if req.host != nil || !fastHost(value) {
			return false // a second Host, or one net/http might read otherwise
		}
		req.host = value
	case actionConnection:
		switch {
		case asciiEqualFold(value, "close"):
			req.close = true
		case asciiEqualFold(value, "keep-alive"):
		default:
			return false
		}
	case actionHandOff:
		return false
	}
	return true
}

// nextLine returns the CRLF-terminated line at the start of buf (without
// its CRLF) and what follows. A bare CR or LF hands the request off; no
// LF yet means h1Incomplete.
func nextLine(buf []byte) (line, rest []byte, v h1Verdict) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if bytes.IndexByte(buf, '\r') >= 0 && buf[len(buf)-1] != '\r' {
			return nil, nil, h1HandOff // a CR not followed by LF
		}
		return nil, nil, h1Incomplete
	}
	if i == 0 || buf[i-1] != '\r' {
		return nil, nil, h1HandOff // bare LF
	}
	line = buf[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, h1HandOff // bare CR
	}
	return line, buf[i+1:], h1Fast
}

// requestLinePrefixOK reports whether an incomplete first line may still
// become a fast request, so a client sending something else (HTTP/2's
// preface, a POST) is handed off without waiting for more bytes.
func requestLinePrefixOK(buf []byte) bool {
	for _, m := range [...]string{"GET ", "HEAD "} {
		n := min(len(buf), len(m))
		if string(buf[:n]) == m[:n] {
			return true
		}
	}
	return false
}

// splitField splits "Name: value" with a token name directly followed by
// ':' and a value of field-content characters, trimmed of spaces and tabs.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	value = line[colon+1:]
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	return name, value, true
}

// fieldActionKind is what a request field means to the fast path.
type fieldActionKind int

const (
	actionIgnore     fieldActionKind = iota // no effect on a hit
	actionHost                              // Host
	actionConnection                        // Connection
	actionHandOff                           // only net/http and the full handler may answer
)

// handOffFields are the request fields whose presence hands a request to
// net/http: a body (and its framing), protocol switches, and what the
// full handler answers differently from a plain hit.
var handOffFields = [...]string{
	"content-length", "transfer-encoding", "expect", "upgrade", "http2-settings",
	"range", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range",
}

// fieldAction classifies a field name, ignoring letter case.
func fieldAction(name []byte) fieldActionKind {
	switch {
	case asciiEqualFold(name, "host"):
		return actionHost
	case asciiEqualFold(name, "connection"):
		return actionConnection
	}
	for _, f := range handOffFields {
		if asciiEqualFold(name, f) {
			return actionHandOff
		}
	}
	return actionIgnore
}

// asciiEqualFold compares b with the lower-case ASCII string s, ignoring
// the case of b.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// fastHost reports a non-empty Host value of letters, digits, '.', '-',
// ':' (a port) and the brackets of an IPv6 literal: a subset of what
// net/http accepts as a Host, so nothing net/http would refuse gets by.
func fastHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// isTokenChar reports RFC 9110 tchar.
func isTokenChar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
