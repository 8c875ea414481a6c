package cacheproxy

import (
	"bufio"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The fast connection's http.ResponseWriter, for the requests it reads
// itself but cannot answer from the cache (misses, stale copies, refusals):
// the full handler answers them on the connection (h1handler.go) through
// h1response, which writes the bytes net/http's response writer writes for
// the same calls (TestH1ResponseMatchesNetHTTP). Its layers are net/http's:
// a 2 KiB buffer before the header is committed (so a short answer whose
// handler returned gets a Content-Length, and the first bytes are sniffed
// for a Content-Type), then the header with Date, Content-Length or
// chunked framing and Connection: close decided as net/http decides them,
// then the connection's output buffer. What it does without: the header
// map's clone when the status is written (it renders the head from the
// map then instead) and a goroutine-safe Flush from other goroutines.

// bufferBeforeChunking is net/http's bufferBeforeChunkingSize.
const bufferBeforeChunking = 2048

// Field names and values the writer decides on.
const (
	fieldContentLength    = "Content-Length"
	fieldTransferEncoding = "Transfer-Encoding"
	codingIdentity        = "identity"
)

// h1response answers one request on a fast connection. The connection
// keeps one and resets it per request.
type h1response struct {
	c      *h1conn
	req    *http.Request
	isHEAD bool

	header        http.Header // the handler's header map
	wroteHeader   bool        // a final status was written (logically)
	status        int
	contentLength int64 // from a valid Content-Length field, or -1
	written       int64 // body bytes the handler wrote
	handlerDone   bool
	wantsClose    bool // the request asked for Connection: close
	closeAfter    bool // close the connection after this answer

	bw bufio.Writer // the handler's writes, before chunkWriter
	cw h1chunkWriter

	// Decided from the header when the status was written (net/http reads
	// them from the header's snapshot when it commits it).
	headAt     int  // where the rendered head starts in c.out
	hasCL      bool // the snapshot has a Content-Length field (valid or not)
	teOverCL   bool // a Transfer-Encoding other than identity beside a Content-Length: framed as if none
	hasDate    bool
	sniff      bool // no Content-Type and no Content-Encoding: sniff the first bytes
	te         string
	trailers   []string // declared trailers (net/http's declareTrailer)
	trailerPfx bool     // the header has "Trailer:"-prefixed keys
	delConn    bool     // the Connection field is replaced by "Connection: close"
	keys       []string // sorted keys of the snapshot (reused)
	excl       []string // keys of the snapshot not written (reused)
}

// h1chunkWriter is net/http's chunkWriter: it commits the header on the
// first bytes that reach it and frames the body.
type h1chunkWriter struct {
	res         *h1response
	wroteHeader bool // the header is in c.out
	chunking    bool
}

// Interface guards: what http.ResponseController and the stream ask of a
// response writer.
var (
	_ http.ResponseWriter = (*h1response)(nil)
	_ http.Flusher        = (*h1response)(nil)
	_ interface {
		FlushError() error
		SetWriteDeadline(time.Time) error
	} = (*h1response)(nil)
)

// errResponseWrite is what Write returns once writing to the connection
// failed (net/http returns the connection's error).
var errResponseWrite = errors.New("cacheproxy: connection write failed")

// reset prepares w for req on c. The header map is the last answer's,
// emptied: a ResponseWriter may not be used once ServeHTTP returned (its
// documented contract), so nothing holds it, and a miss's answer does not
// grow a map of a dozen fields from nothing.
func (w *h1response) reset(c *h1conn, req *http.Request) {
	header := w.header
	if header == nil {
		header = make(http.Header)
	}
	clear(header)
	*w = h1response{
		c: c, req: req, isHEAD: req.Method == http.MethodHead,
		header: header, contentLength: -1, wantsClose: req.Close,
		bw: w.bw, keys: w.keys[:0], excl: w.excl[:0],
	}
	w.cw.res = w
	if w.bw.Size() == 0 {
		w.bw = *bufio.NewWriterSize(&w.cw, bufferBeforeChunking)
	} else {
		w.bw.Reset(&w.cw)
	}
}

// Header returns the header map the status line will be written with.
func (w *h1response) Header() http.Header { return w.header }

// WriteHeader writes the status: 1xx at once, a final one when the first
// body bytes (or the end) commit the header.
func (w *h1response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.s.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	c := w.c
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		c.out = appendStatusLine(c.out, code)
		c.out = w.appendFields(c.out, func(k string) bool { return k == fieldContentLength || k == fieldTransferEncoding })
		c.out = append(c.out, "\r\n"...)
		c.flush()
		return
	}
	w.wroteHeader, w.status = true, code
	h := w.header
	if cl := headerGet(h, fieldContentLength); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			c.s.logf("http: invalid Content-Length of %q", cl)
			// net/http drops it from the handler's map, not from the
			// snapshot it writes, where chunking drops it.
		}
	}
	w.snapshot()
}

// snapshot decides from the header, as it is when the status is written,
// what chunkWriter.writeHeader decides from net/http's copy of it, and
// renders the status line and the fields into c.out. The Date,
// Content-Length, Content-Type, Connection and Transfer-Encoding that
// net/http adds follow when the header is committed (commit).
func (w *h1response) snapshot() {
	h, code := w.header, w.status
	_, w.hasCL = h[fieldContentLength]
	_, w.hasDate = h["Date"]
	_, haveType := h["Content-Type"]
	w.te = headerGet(h, fieldTransferEncoding)
	hasTE := w.te != ""
	w.sniff = !haveType && h.Get("Content-Encoding") == "" && !hasTE
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.trailerPfx = true
		}
	}
	for _, v := range h["Trailer"] {
		foreachHeaderElement(v, w.declareTrailer)
	}
	w.excl = w.excl[:0]
	del := func(k string) {
		if _, ok := h[k]; ok {
			w.excl = append(w.excl, k)
		}
	}
	keepAlives := !w.c.s.shutting.Load()
	if !keepAlives || w.wantsClose || headerGet(h, "Connection") == "close" {
		w.closeAfter = true
	}
	if !bodyAllowedForStatus(code) {
		del(fieldContentLength)
		del(fieldTransferEncoding)
		if code == http.StatusNotModified {
			del("Content-Type")
		}
	}
	w.decideFraming(hasTE, del)
	w.delConn = w.closeAfter && (!keepAlives || !hasToken(headerGet(h, "Connection"), "close")) &&
		(code != http.StatusSwitchingProtocols || h.Get("Upgrade") == "" || !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade"))
	if w.delConn {
		del("Connection")
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			del(k)
		}
	}
	c := w.c
	w.headAt = len(c.out)
	c.out = appendStatusLine(c.out, code)
	c.out = w.appendFields(c.out, func(k string) bool { return slices.Contains(w.excl, k) })
}

// decideFraming is chunkWriter.writeHeader's choice between a length,
// chunks and closing the connection, as far as the header decides it;
// del drops a field from what is written.
func (w *h1response) decideFraming(hasTE bool, del func(string)) {
	hasCL := w.contentLength != -1
	if hasCL && hasTE && w.te != codingIdentity {
		w.c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", w.te, w.contentLength)
		del(fieldContentLength)
		hasCL = false
		w.teOverCL = true // net/http keeps contentLength for its write checks
	}
	switch {
	case w.isHEAD || !bodyAllowedForStatus(w.status):
		del(fieldTransferEncoding)
	case hasCL:
		del(fieldTransferEncoding)
	case hasTE && w.te == codingIdentity:
		w.closeAfter = true
		del(fieldTransferEncoding)
	default:
		// Chunked, unless the handler ends with the whole body in the
		// first buffer (commit then sets a Content-Length): in both
		// cases no Content-Length field of the handler's is written,
		// since one was either absent or invalid.
		if w.te == "chunked" {
			del(fieldTransferEncoding)
		}
		del(fieldContentLength)
	}
}

// appendFields appends the header's fields as net/http's
// Header.WriteSubset writes them: names sorted, invalid names dropped,
// one line per value.
func (w *h1response) appendFields(b []byte, exclude func(string) bool) []byte {
	keys := w.keys[:0]
	for k := range w.header {
		if !exclude(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range w.header[k] {
			b = appendField(b, k, v)
		}
	}
	w.keys = keys
	return b
}

// declareTrailer notes a trailer the handler declared (net/http's rule).
func (w *h1response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !httpguts.ValidTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

// commit ends the header in c.out with the fields net/http adds, given p,
// the first bytes of the body (or nil).
func (cw *h1chunkWriter) commit(p []byte) {
	if cw.wroteHeader {
		return
	}
	cw.wroteHeader = true
	w := cw.res
	c := w.c
	trailers := w.trailerPfx || len(w.trailers) > 0
	hasTE := w.te != ""
	autoLength := false
	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(w.status) && !w.hasCL && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		autoLength = true
	}
	hasCL := w.contentLength != -1 && !w.teOverCL
	contentType := ""
	if bodyAllowedForStatus(w.status) && w.sniff && len(p) > 0 {
		contentType = http.DetectContentType(p)
	}
	transferEncoding := ""
	if !w.isHEAD && bodyAllowedForStatus(w.status) && !hasCL && (!hasTE || w.te != codingIdentity) {
		cw.chunking = true
		transferEncoding = "chunked"
	}
	out := c.out
	if !w.hasDate {
		out = append(out, "Date: "...)
		out = time.Now().UTC().AppendFormat(out, http.TimeFormat)
		out = append(out, "\r\n"...)
	}
	if autoLength {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, w.contentLength, 10)
		out = append(out, "\r\n"...)
	}
	if contentType != "" {
		out = appendField(out, "Content-Type", contentType)
	}
	if w.delConn {
		out = append(out, "Connection: close\r\n"...)
	}
	if transferEncoding != "" {
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	}
	c.out = append(out, "\r\n"...)
}

// Write is chunkWriter.Write: the header first, then the bytes, framed
// when chunking; a HEAD request's are dropped.
func (cw *h1chunkWriter) Write(p []byte) (int, error) {
	cw.commit(p)
	w := cw.res
	c := w.c
	if w.isHEAD {
		return len(p), nil
	}
	if cw.chunking {
		c.out = strconv.AppendInt(c.out, int64(len(p)), 16)
		c.out = append(c.out, "\r\n"...)
	}
	c.writeBody(p)
	if cw.chunking {
		c.out = append(c.out, "\r\n"...)
	}
	if c.failed {
		return 0, errResponseWrite
	}
	return len(p), nil
}

// close ends the body: the last chunk and the trailers when chunking.
func (cw *h1chunkWriter) close() {
	cw.commit(nil)
	if !cw.chunking {
		return
	}
	c := cw.res.c
	c.out = append(c.out, "0\r\n"...)
	if t := cw.res.finalTrailers(); t != nil {
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			for _, v := range t[k] {
				c.out = appendField(c.out, k, v)
			}
		}
	}
	c.out = append(c.out, "\r\n"...)
}

// finalTrailers is net/http's: the "Trailer:"-prefixed keys and the
// declared trailers, with the values the handler left in its header.
func (w *h1response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.header {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	return t
}

// Write writes body bytes, the header first (200 unless written).
func (w *h1response) Write(b []byte) (int, error) {
	if err := w.beforeWrite(len(b)); err != nil || len(b) == 0 {
		return 0, err
	}
	return w.bw.Write(b)
}

// WriteString is Write for a string (io.WriteString, fmt.Fprint).
func (w *h1response) WriteString(s string) (int, error) {
	if err := w.beforeWrite(len(s)); err != nil || len(s) == 0 {
		return 0, err
	}
	return w.bw.WriteString(s)
}

// beforeWrite is what net/http checks before a body write.
func (w *h1response) beforeWrite(n int) error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return nil
	}
	if !bodyAllowedForStatus(w.status) {
		return http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return http.ErrContentLength
	}
	return nil
}

// Flush sends what was written so far.
func (w *h1response) Flush() { _ = w.FlushError() }

// FlushError sends what was written so far (http.ResponseController).
func (w *h1response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	err := w.bw.Flush()
	w.cw.commit(nil)
	if !w.c.flush() && err == nil {
		err = errResponseWrite
	}
	return err
}

// SetWriteDeadline bounds the connection's writes
// (http.ResponseController); the connection clears it after the answer.
func (w *h1response) SetWriteDeadline(t time.Time) error {
	w.c.writeDeadline = !t.IsZero()
	return w.c.nc.SetWriteDeadline(t)
}

// finish is net/http's finishRequest after the handler returned: the
// buffered bytes, the header if still unwritten, the last chunk, all
// written to the connection.
func (w *h1response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.bw.Flush()
	w.cw.close()
	w.c.flush()
}

// abandon drops a head rendered but not committed (a handler that panicked
// after WriteHeader sent nothing, as with net/http).
func (w *h1response) abandon() {
	if w.wroteHeader && !w.cw.wroteHeader && w.headAt <= len(w.c.out) {
		w.c.out = w.c.out[:w.headAt]
	}
}

// reusable is net/http's shouldReuseConnection.
func (w *h1response) reusable() bool {
	if w.closeAfter || w.c.failed {
		return false
	}
	return w.isHEAD || w.contentLength == -1 || !bodyAllowedForStatus(w.status) || w.contentLength == w.written
}

// appendStatusLine appends net/http's status line for code.
func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(code); text != "" {
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ' ')
		b = append(b, text...)
		return append(b, "\r\n"...)
	}
	b = append(b, byte('0'+code/100%10), byte('0'+code/10%10), byte('0'+code%10))
	b = append(b, " status code "...)
	b = strconv.AppendInt(b, int64(code), 10)
	return append(b, "\r\n"...)
}

// headerGet is net/http's Header.get: the first value of an exact key.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// bodyAllowedForStatus is net/http's: no body for 1xx, 204 and 304.
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199, status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// hasToken is net/http's: whether v holds token, ignoring case, as a
// whole word.
func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if endPos := sp + len(token); endPos != len(v) && !isTokenBoundary(v[endPos]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// foreachHeaderElement is net/http's: fn for each non-empty element of a
// comma-separated list.
func foreachHeaderElement(v string, fn func(string)) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return
	}
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.Trim(f, " \t"); f != "" {
			fn(f)
		}
	}
}
