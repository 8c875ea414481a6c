package cacheproxy

import (
	"errors"
	"io"
	"net/http"
)

// The fill writer: the origin's answer on its way into the fill's buffer
// (while it may be stored or shared) and into the stream every client of
// the flight reads (stream.go). The buffer is the stream's data while it
// grows; an answer that outgrows MaxObjectSize or the room left in the
// cache stops being buffered and streams on through a window.

var errNobodyListens = errors.New("response not needed: not stored and no client")

// startStream starts the clients' stream with the origin's answer, for an
// answer streamed to them (not a 304 or an error a stale copy stands in
// for). header is the answer's, without Cache-Status; the stream owns it.
//
// The flight's clients learn of it at once, unless it is to be stored and
// its Content-Length is under headerHoldBytes: they would only wait on
// the stream for its end (holdHeaderLocked), woken by every part of the
// body, so they are told when the fetch ends instead, once (a miss is then
// one wake-up of its client's goroutine, not three).
func (f *fill) startStream(status int, header http.Header, contentLength int64) {
	if f.mode != modeForward || f.fl == nil {
		return
	}
	f.fl.obj = f.obj
	f.fl.st.start(status, header, f.cs, f.upstream, f.obj != nil, f.storing)
	if !f.storing || contentLength < 0 || contentLength >= headerHoldBytes {
		f.fl.decide()
	}
}

// writeBody buffers b while the answer may be stored, and streams it to
// the flight's clients. errNobodyListens ends a fetch nobody needs.
func (f *fill) writeBody(b []byte) error {
	if f.mode != modeForward {
		return nil // a 304 or an error body: served from elsewhere
	}
	if f.buffering.Load() {
		need := int64(len(f.buf) + len(b))
		if need <= f.p.cfg.MaxObjectSize && (need <= f.reserved || f.reserve(max(need, 2*f.reserved)-f.reserved)) {
			f.buf = append(f.buf, b...)
			if f.fl != nil {
				f.fl.st.publish(f.buf)
			}
			return nil
		}
		// Too large, or no room: stream on without storing, its clients
		// told now (the window needs readers).
		f.buffering.Store(false)
		if f.fl != nil {
			f.fl.decide()
		}
		f.buf = nil
		f.release()
	}
	if f.fl == nil || !f.fl.st.push(b) {
		return errNobodyListens
	}
	return nil
}

// copyBody reads the answer's body into the fill until it ends, fails, or
// nobody needs it any more.
func (f *fill) copyBody(body io.Reader) {
	bp := f.p.copyBuffers.get()
	defer f.p.copyBuffers.put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if werr := f.writeBody(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				f.p.log.Debug("Origin body ended early", "key", f.key, "error", err)
			}
			return
		}
	}
}

// eofReader records that the origin's body was read to its end, which is
// the only proof a response is complete enough to store.
type eofReader struct {
	io.ReadCloser
	f *fill
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.ReadCloser.Read(b)
	if t := e.f.idle; t != nil {
		if err != nil {
			t.Stop()
		} else if n > 0 {
			t.Reset(e.f.p.cfg.OriginTimeout)
		}
	}
	if err == io.EOF {
		e.f.sawEOF = true
	}
	return n, err
}
