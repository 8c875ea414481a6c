package cacheproxy

import (
	"net/http"
	"sync/atomic"
)

// Request framing (RFC 9112 §6.1, §6.3; red team C4).
//
// A request carrying both Content-Length and Transfer-Encoding is framed by
// its Transfer-Encoding, but a front end that framed it by its
// Content-Length reads the rest of the connection differently: the classic
// request smuggling desync. RFC 9112 lets a server refuse such a request
// and requires it to close the connection after answering it. net/http
// does neither: it drops the Content-Length, frames by Transfer-Encoding
// and keeps the connection, and its handler cannot tell that a
// Content-Length was there.
//
// So every connection net/http reads (handedConn, h1server.go) passes its
// bytes through a frameScanner, which follows the request heads just far
// enough to see the first one with a Transfer-Encoding and whether it also
// had a Content-Length. The handler (checkFraming) then refuses that
// request with 400, and answers any request with a Transfer-Encoding with
// Connection: close. Closing after every chunked request is what lets the
// scanner stop at the first one instead of parsing chunks: nothing after it
// on the connection is ever read as a request. (Clients rarely send chunked
// requests; the next request opens a new connection.)
//
// The scanner never decides framing: net/http does. Should the two ever
// read a connection differently, the scanner can only miss a
// Content-Length, and the connection is still closed after any chunked
// request.

// frameScanner follows request heads through the bytes net/http reads.
// feed is called by one goroutine at a time (net/http's reads of a
// connection are serialised); the results are atomics the handler reads.
type frameScanner struct {
	state   scanState
	skip    int64 // body bytes left to skip (scanBody)
	sawLine bool  // the current head has its request line
	line    [64]byte
	lineLen int // bytes of the current line, the first len(line) kept in line
	cl, te  bool
	clValue int64
	clBad   bool

	// teHead is set at the end of the first head with a Transfer-Encoding;
	// ambiguous too when that head also had a Content-Length.
	teHead, ambiguous atomic.Bool
}

// scanState is where the scanner is in the connection.
type scanState int

const (
	scanHead scanState = iota // reading a request head
	scanBody                  // skipping a Content-Length body
	scanDone                  // past the first Transfer-Encoding head (or lost): nothing more to learn
)

// maxScannedLength is the largest Content-Length the scanner follows;
// net/http refuses larger values as invalid anyway.
const maxScannedLength = 1<<62 - 1

// feed follows b, the next bytes net/http reads from the connection.
func (s *frameScanner) feed(b []byte) {
	for len(b) > 0 {
		switch s.state {
		case scanDone:
			return
		case scanBody:
			n := min(int64(len(b)), s.skip)
			s.skip -= n
			b = b[n:]
			if s.skip == 0 {
				s.state = scanHead
			}
		case scanHead:
			c := b[0]
			b = b[1:]
			if c != '\n' {
				if s.lineLen < len(s.line) {
					s.line[s.lineLen] = lower(c)
				}
				s.lineLen++
				continue
			}
			s.endLine()
		}
	}
}

// endLine handles a complete line of a head (its LF consumed).
func (s *frameScanner) endLine() {
	n := s.lineLen
	s.lineLen = 0
	truncated := n > len(s.line) // only its start is kept
	if truncated {
		n = len(s.line)
	} else if n > 0 && s.line[n-1] == '\r' {
		n--
	}
	switch {
	case n == 0 && !s.sawLine:
		// An empty line before a request line is skipped (RFC 9112 §2.2).
	case n == 0:
		s.endHead()
	case !s.sawLine:
		s.sawLine = true
	default:
		s.field(s.line[:n], truncated)
	}
}

// field notes a header field line (its start, lower-cased).
func (s *frameScanner) field(line []byte, truncated bool) {
	name, value, ok := cutByte(line, ':')
	switch {
	case !ok:
		return // a continuation line, or net/http refuses the head
	case string(name) == "transfer-encoding":
		s.te = true
	case string(name) == "content-length":
		v, valid := parseScannedLength(value)
		switch {
		case truncated || !valid:
			s.clBad = true // (a value padded past 64 bytes too: the scanner stops following)
		case s.cl && v != s.clValue:
			s.clBad = true // net/http refuses differing lengths
		}
		s.cl, s.clValue = true, v
	}
}

// endHead decides what follows a head: a body to skip, the next head, or
// nothing more to learn.
func (s *frameScanner) endHead() {
	switch {
	case s.te:
		s.ambiguous.Store(s.cl)
		s.teHead.Store(true)
		s.state = scanDone
	case s.clBad:
		s.state = scanDone // net/http refuses it and closes
	case s.cl && s.clValue > 0:
		s.state, s.skip = scanBody, s.clValue
	}
	s.sawLine, s.cl, s.te, s.clValue = false, false, false, 0
}

// parseScannedLength reads a Content-Length value: digits between optional
// spaces and tabs.
func parseScannedLength(v []byte) (int64, bool) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' || n > maxScannedLength/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func cutByte(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// connKey carries the *handedConn of a request's connection in its
// context (Server sets http.Server.ConnContext).
type connKey struct{}

// checkFraming answers what the framing of r asks for and reports whether
// it refused r. A request with a Transfer-Encoding closes its connection
// after the answer; one that also had a Content-Length is refused with 400
// (RFC 9112 §6.1). net/http ignores Transfer-Encoding in HTTP/1.0 requests
// and frames them by Content-Length; the scanner's verdict then decides.
func (p *Proxy) checkFraming(w http.ResponseWriter, r *http.Request) bool {
	hc, _ := r.Context().Value(connKey{}).(*handedConn)
	chunked := r.TransferEncoding != nil
	if !chunked && (hc == nil || r.ProtoAtLeast(1, 1) || !hc.scan.teHead.Load()) {
		return false
	}
	w.Header().Set("Connection", "close")
	if hc == nil || !hc.scan.ambiguous.Load() {
		return false
	}
	p.refuse(w, http.StatusBadRequest, "a request with both Content-Length and Transfer-Encoding is refused (RFC 9112 §6.1)")
	return true
}
