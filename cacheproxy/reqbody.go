package cacheproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// Request bodies (red team C5: 100 clients trickling a body at one byte a
// second held 100 origin connections for as long as they liked).
//
// Two defences, after nginx and Apache:
//
//   - Buffering, as nginx's proxy_request_buffering: the first
//     requestBufferSize bytes of a body are read before the origin is
//     contacted, so a body up to that size (most form posts and API calls)
//     reaches the origin whole, at the proxy's speed, and a slow client
//     holds no origin connection at all. A complete chunked body is sent
//     with a Content-Length. Larger bodies are streamed after their first
//     requestBufferSize bytes: buffering them whole would take memory (or
//     disk) per upload.
//   - A minimum rate, as Apache's mod_reqtimeout (body=20,MinRate=500):
//     reading a body spends a credit of RequestBodyTimeout while the proxy
//     waits for the client's bytes, and every RequestBodyMinRate bytes
//     received earn one second back, up to RequestBodyTimeout. A client
//     that stalls for RequestBodyTimeout, or sends slower than
//     RequestBodyMinRate for long enough, gets 408 Request Timeout and its
//     connection is closed; a streamed body is cut, which closes the origin
//     connection too. Only the time spent waiting for the client counts:
//     an origin that reads slowly costs the client nothing. The credit is
//     capped so that a fast start cannot pay for a long trickle later.
//
// A per-read idle timeout alone (nginx's client_body_timeout) would not
// do: a trickle of one byte a second never idles. A deadline on the whole
// body would cut large uploads from slow but honest clients.

// requestBufferSize is the part of a request body read before the origin
// is contacted. 64 KiB holds the bodies of most forms and API calls; its
// memory is allocated as bytes arrive, so a slow client holds only what it
// sent.
const requestBufferSize = 64 << 10

// errRequestBodyTimeout is a request body that fell below the minimum rate.
var errRequestBodyTimeout = errors.New("request body not received in time")

// pacedBody is a request body whose reads the minimum rate bounds, through
// read deadlines on the client's connection.
type pacedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	limit    time.Duration // the credit's cap: RequestBodyTimeout
	credit   time.Duration // what the client may still make the proxy wait
	rate     int64         // bytes per second that earn one second of credit
	timedOut atomic.Bool   // read by errorHandler, on another goroutine
}

func (p *Proxy) newPacedBody(w http.ResponseWriter, body io.ReadCloser) *pacedBody {
	return &pacedBody{ReadCloser: body, rc: http.NewResponseController(w),
		limit: p.cfg.RequestBodyTimeout, credit: p.cfg.RequestBodyTimeout, rate: p.cfg.RequestBodyMinRate}
}

// Read reads from the client within the credit left, and settles it.
func (b *pacedBody) Read(buf []byte) (int, error) {
	if b.timedOut.Load() {
		return 0, errRequestBodyTimeout
	}
	if b.credit <= 0 {
		b.timedOut.Store(true)
		return 0, errRequestBodyTimeout
	}
	start := time.Now()
	_ = b.rc.SetReadDeadline(start.Add(b.credit))
	n, err := b.ReadCloser.Read(buf)
	b.credit -= time.Since(start)
	b.credit = min(b.credit+time.Duration(int64(n)*int64(time.Second)/b.rate), b.limit)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		return n, errRequestBodyTimeout
	case err != nil:
		b.done()
	}
	return n, err
}

// done lifts the read deadline once the body is read: net/http's
// background read that watches the idle connection would otherwise fail
// at the deadline and cancel the request.
func (b *pacedBody) done() { _ = b.rc.SetReadDeadline(time.Time{}) }

// bufferBody reads the first requestBufferSize bytes of r's body, within
// the minimum rate, and makes r.Body send them, then the rest of the body,
// still paced. It answers the client and returns false when the body did
// not arrive in time (408) or was malformed (400).
func (p *Proxy) bufferBody(w http.ResponseWriter, r *http.Request, ps *passState) bool {
	pb := p.newPacedBody(w, r.Body)
	limit := int64(requestBufferSize)
	if r.ContentLength >= 0 {
		limit = min(limit, r.ContentLength)
	}
	buf, err := readUpTo(pb, limit)
	switch {
	case pb.timedOut.Load():
		p.bodyTimedOut(w, ps)
		return false
	case errors.Is(err, io.EOF) || (err == nil && int64(len(buf)) == r.ContentLength):
		pb.done()
		r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(buf)), int64(len(buf)), nil
		if len(buf) == 0 {
			r.Body = http.NoBody
		}
		// The client was told to go on when its body was read; the origin
		// gets it whole and has nothing to agree to.
		delete(r.Header, "Expect")
	case err != nil:
		p.refuseBody(w, ps, http.StatusBadRequest, detailRequestBodyInvalid, "the request body could not be read: "+err.Error())
		return false
	default:
		ps.body = pb
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), pb), pb}
	}
	return true
}

// readUpTo reads up to limit bytes from r, growing its buffer as bytes
// arrive. The error is io.EOF when the body ended, nil when limit bytes
// were read first.
func readUpTo(r io.Reader, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(limit, 4<<10))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// bodyTimedOut answers a request whose body fell below the minimum rate.
func (p *Proxy) bodyTimedOut(w http.ResponseWriter, ps *passState) {
	p.refuseBody(w, ps, http.StatusRequestTimeout, detailRequestBodyTimeout, fmt.Sprintf(
		"the request body did not arrive in time: it may make the proxy wait %v in all, and every %d bytes received give back one second",
		p.cfg.RequestBodyTimeout, p.cfg.RequestBodyMinRate))
}

// refuseBody answers a request whose body failed and closes the
// connection: what is left of the body on it is not read.
func (p *Proxy) refuseBody(w http.ResponseWriter, ps *passState, status int, detail cacheDetail, msg string) {
	w.Header().Set("Connection", "close")
	p.answer(w, status, cacheStatus{fwd: ps.fwd, detail: detail}, msg)
}
