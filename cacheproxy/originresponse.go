package cacheproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The origin client's response parser: the head of an origin's answer read
// in place from the connection's buffer, as the fast path reads requests
// (h1request.go), instead of with http.ReadResponse.
//
// http.ReadResponse costs a miss a dozen allocations: a string per field
// value, the map's groups, the line reader's buffers, the transfer reader.
// Here the head is read into the connection's own buffer, made one string,
// and the header map's names and values are slices of that string (a name
// not in canonical form is canonicalised, which interns the common ones),
// its value slices cut from one array.
//
// What net/http's client checks, this checks the same way: the status
// line (a version of HTTP/1, a three-digit code), field names of token
// bytes with the colon right after them, field values without control
// bytes, one chunked Transfer-Encoding or none ("unsupported transfer
// encoding" otherwise, the text originFailure maps to
// detail=origin-unsupported-transfer-coding), a Content-Length of digits,
// trailers after a chunked body bounded by the reader's buffer, "Pragma:
// no-cache" read as "Cache-Control: no-cache", the same rules for which
// answers have a body and which end with the connection. Where net/http
// is lenient with what looks like request smuggling or response splitting,
// this refuses the answer (a 502 with detail=origin-invalid-response; RFC
// 9112 permits every one of these refusals, and nginx and Varnish make
// most of them):
//
//   - two Content-Length fields (net/http accepts equal ones, nginx does
//     not);
//   - Content-Length beside Transfer-Encoding (RFC 9112 §6.1: "ought to be
//     handled as an error"; net/http drops the Content-Length);
//   - Transfer-Encoding in an HTTP/1.0 answer (net/http ignores it);
//   - obs-fold, a field line starting with a space (RFC 9112 §5.2 lets a
//     proxy answer 502 instead of unfolding it, as net/http does);
//   - a head over maxOriginHead bytes or with more than maxOriginFields
//     fields (net/http's client allows 10 MiB by default).
//
// Bare LF line ends are accepted, as net/http, nginx and Varnish accept
// them (RFC 9112 §2.2).

// Bounds of an origin's response head. 64 KiB is twice Varnish's default
// for a whole response head (http_resp_size) and eight times nginx's
// (proxy_buffer_size); 256 fields are four times Varnish's http_max_hdr.
const (
	maxOriginHead   = 64 << 10
	maxOriginFields = 256
)

// originResponseError is an origin's answer refused as malformed: the
// fill fails with 502 and detail=origin-invalid-response, and nothing is
// stored.
type originResponseError struct{ reason string }

func (e *originResponseError) Error() string { return "invalid origin response: " + e.reason }

func badOriginResponse(format string, args ...any) error {
	return &originResponseError{reason: fmt.Sprintf(format, args...)}
}

// unsupportedCodingError is net/http's refusal of a transfer coding, in
// its words (originFailure reads them).
type unsupportedCodingError struct{ coding string }

func (e *unsupportedCodingError) Error() string {
	return fmt.Sprintf("unsupported transfer encoding: %q", e.coding)
}

// readOriginResponse reads the head of one answer from br into buf (the
// connection's, reused; returned for the next answer) and returns the
// response to a GET with its body reader.
func readOriginResponse(br *bufio.Reader, buf []byte) (*http.Response, []byte, error) {
	head, err := readOriginHead(br, buf[:0])
	if err != nil {
		return nil, head, err
	}
	resp, err := parseOriginHead(string(head))
	if err != nil {
		return nil, head, err
	}
	return resp, head, setOriginBody(resp, br)
}

// readOriginHead appends the head's bytes, up to and including the empty
// line, to buf.
func readOriginHead(br *bufio.Reader, buf []byte) ([]byte, error) {
	lineStart := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxOriginHead {
			return buf, badOriginResponse("head larger than %d bytes", maxOriginHead)
		}
		buf = append(buf, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue // the line goes on
		case errors.Is(err, io.EOF):
			return buf, io.ErrUnexpectedEOF
		case err != nil:
			return buf, err
		}
		if line := buf[lineStart:]; lineStart > 0 && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// parseOriginHead parses a whole head (status line, fields, empty line).
// The header's strings are slices of head.
func parseOriginHead(head string) (*http.Response, error) {
	statusLine, rest := cutLine(head)
	resp := &http.Response{}
	if err := parseStatusLine(statusLine, resp); err != nil {
		return nil, err
	}
	n := strings.Count(rest, "\n") - 1 // field lines; the last line is empty
	if n > maxOriginFields {
		return nil, badOriginResponse("more than %d header fields", maxOriginFields)
	}
	h := make(http.Header, n)
	values := make([]string, n)
	for {
		var line string
		line, rest = cutLine(rest)
		if line == "" {
			break
		}
		name, value, err := splitOriginField(line)
		if err != nil {
			return nil, err
		}
		if vv, ok := h[name]; ok {
			h[name] = append(vv, value)
			continue
		}
		values[0] = value
		h[name], values = values[:1:1], values[1:]
	}
	if pragma := h["Pragma"]; len(pragma) > 0 && pragma[0] == pragmaNoCache {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{pragmaNoCache} // as http.ReadResponse (fixPragmaCacheControl)
		}
	}
	resp.Header = h
	return resp, nil
}

// cutLine cuts s after its first line, returning the line without its
// end (CRLF or bare LF).
func cutLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// parseStatusLine reads "HTTP/1.x SSS reason" into resp.
func parseStatusLine(line string, resp *http.Response) error {
	proto, status, ok := strings.Cut(line, " ")
	if !ok {
		return badOriginResponse("malformed status line %q", truncate(line))
	}
	switch proto {
	case protoHTTP11:
		resp.ProtoMinor = 1
	case "HTTP/1.0":
	default:
		return badOriginResponse("version %q is not HTTP/1.0 or HTTP/1.1", truncate(proto))
	}
	resp.Proto, resp.ProtoMajor = proto, 1
	resp.Status = strings.TrimLeft(status, " ")
	code, _, _ := strings.Cut(resp.Status, " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return badOriginResponse("malformed status code %q", truncate(code))
	}
	resp.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return nil
}

// splitOriginField splits one field line into its canonical name and its
// value, refusing what net/http refuses and obs-fold.
func splitOriginField(line string) (name, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", badOriginResponse("obs-fold or whitespace before a field name: %q", truncate(line))
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok || name == "" {
		return "", "", badOriginResponse("malformed header line %q", truncate(line))
	}
	for i := 0; i < len(name); i++ {
		if !httpguts.IsTokenRune(rune(name[i])) {
			return "", "", badOriginResponse("malformed header field name %q", truncate(name))
		}
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return "", "", badOriginResponse("control byte in the value of %s", truncate(name))
		}
	}
	return textproto.CanonicalMIMEHeaderKey(name), value, nil
}

// protoHTTP11 is the version of HTTP/1.1 messages.
const protoHTTP11 = "HTTP/1.1"

// truncate shortens what an error quotes.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// setOriginBody decides the answer's framing, as net/http's client does
// but for the refusals above, and sets its body reader.
func setOriginBody(resp *http.Response, br *bufio.Reader) error {
	h := resp.Header
	te, hasTE := h[fieldTransferEncoding]
	cls := h[fieldContentLength]
	switch {
	case hasTE && resp.ProtoMinor == 0:
		return badOriginResponse("Transfer-Encoding in an HTTP/1.0 response")
	case hasTE && len(cls) > 0:
		return badOriginResponse("both Transfer-Encoding and Content-Length")
	case len(cls) > 1:
		return badOriginResponse("%d Content-Length fields", len(cls))
	case hasTE && (len(te) != 1 || !strings.EqualFold(te[0], "chunked")):
		return &unsupportedCodingError{coding: strings.Join(te, ", ")}
	}
	chunked := hasTE
	delete(h, fieldTransferEncoding)
	length := int64(-1)
	if len(cls) == 1 {
		n, err := strconv.ParseUint(cls[0], 10, 63)
		if err != nil {
			return badOriginResponse("invalid Content-Length %q", truncate(cls[0]))
		}
		length = int64(n)
	}
	conn := h["Connection"]
	resp.Close = httpguts.HeaderValuesContainsToken(conn, "close") ||
		resp.ProtoMinor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	if chunked {
		if err := setOriginTrailer(resp); err != nil {
			return err
		}
	}
	bodyless := resp.StatusCode < 200 || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	switch {
	case bodyless:
		resp.ContentLength, resp.Body = 0, http.NoBody
	case chunked:
		resp.ContentLength = -1
		resp.Body = &chunkedOriginBody{br: br, cr: httputil.NewChunkedReader(br)}
	case length == 0:
		resp.ContentLength, resp.Body = 0, http.NoBody
	case length > 0:
		resp.ContentLength, resp.Body = length, &fixedOriginBody{br: br, left: length}
	default: // until the connection closes
		resp.ContentLength, resp.Close, resp.Body = -1, true, io.NopCloser(br)
	}
	return nil
}

// setOriginTrailer moves a chunked answer's Trailer field to
// resp.Trailer, refusing the names net/http refuses there.
func setOriginTrailer(resp *http.Response) error {
	vv, ok := resp.Header[fieldTrailer]
	if !ok {
		return nil
	}
	delete(resp.Header, fieldTrailer)
	for _, v := range vv {
		for name := range strings.SplitSeq(v, ",") {
			name = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(name))
			switch name {
			case "":
				continue
			case fieldTransferEncoding, fieldTrailer, fieldContentLength:
				return badOriginResponse("trailer field %s", name)
			}
			if resp.Trailer == nil {
				resp.Trailer = make(http.Header)
			}
			resp.Trailer[name] = nil
		}
	}
	return nil
}

// fixedOriginBody is a body of Content-Length bytes; ending before them
// is io.ErrUnexpectedEOF, as in net/http.
type fixedOriginBody struct {
	br   *bufio.Reader
	left int64
}

func (b *fixedOriginBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case errors.Is(err, io.EOF):
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *fixedOriginBody) Close() error { return nil }

// chunkedOriginBody is a chunked body (net/http's chunk reader), its
// trailer section read and dropped at its end: a fill passes on no
// trailer.
type chunkedOriginBody struct {
	br *bufio.Reader
	cr io.Reader
}

// errOriginTrailer is a trailer section that is cut short, too long for
// the reader's buffer, or malformed.
var errOriginTrailer = errors.New("invalid origin response: malformed trailer section")

func (b *chunkedOriginBody) Read(p []byte) (int, error) {
	n, err := b.cr.Read(p)
	if errors.Is(err, io.EOF) {
		if terr := skipOriginTrailer(b.br); terr != nil {
			return n, terr
		}
	}
	return n, err
}

func (b *chunkedOriginBody) Close() error { return nil }

// skipOriginTrailer reads the trailer section after the last chunk, up to
// its empty line, checking each field line. Stricter than net/http, never
// looser: every line ends with CRLF, and the section fits the reader's
// buffer (about 4 KiB), as net/http requires of its end.
func skipOriginTrailer(br *bufio.Reader) error {
	for read := 0; ; {
		line, err := br.ReadSlice('\n')
		read += len(line)
		if err != nil || read > br.Size() || len(line) < 2 || line[len(line)-2] != '\r' {
			return errOriginTrailer
		}
		if len(line) == 2 {
			return nil
		}
		if _, _, err := splitOriginField(string(line[:len(line)-2])); err != nil {
			return errOriginTrailer
		}
	}
}
