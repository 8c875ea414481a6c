package cacheproxy

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// A stream carries one origin answer from the goroutine that fetches it to
// every client reading it, each at its own pace (red team F1: a client
// that read slowly, or not at all, held every other client of the URL).
//
// While the answer is being buffered for the cache (or for sharing), the
// stream is the fetch's buffer itself: the fetch appends at the origin's
// speed and never waits for readers, and memory is bounded by the
// reservation the buffer holds in the store. An answer that is not
// buffered (not storable, too large, or grown past its reservation) keeps
// only a window of streamWindow bytes past the slowest reader: the fetch
// then waits for that reader, which WriteTimeout bounds, since a reader
// that cannot write for that long is disconnected.

// streamWindow is how far the fetch of an unbuffered answer may run ahead
// of its slowest reader.
const streamWindow = 64 << 10

// stream is one answer in flight.
type stream struct {
	mu   sync.Mutex
	cond sync.Cond // broadcast when data grows, the stream ends, or a reader moves or leaves

	// Guarded by mu.
	status          int
	header          http.Header // as every reader gets it, Cache-Status apart
	cs              cacheStatus // this proxy's Cache-Status member, collapsed and stored apart
	upstream        string      // the origin's Cache-Status
	shared          bool        // clients other than the first may read it
	storing         bool        // the answer is to be stored once whole: headers wait (holdHeaderLocked)
	stored          bool        // it was stored (set by end)
	data            []byte      // bytes [base, base+len(data)) of the body
	base            int64
	retain          bool      // data starts at offset 0 and is never trimmed
	ended, complete bool      // the body ended; at its real end (not cut short)
	readers         []*reader // attached, in no order
	first           reader    // the first reader, allocated with the stream
	firstSlot       [1]*reader
	abandoned       bool   // every reader left an unbuffered answer: it stops
	onIdle          func() // runs when the last reader leaves
}

// reader is one client's position in a stream.
type reader struct {
	s   *stream
	pos int64
}

// init readies a new stream (a flight's, coalesce.go) and returns its
// first reader, attached.
func (s *stream) init() *reader {
	s.retain = true
	s.cond.L = &s.mu
	rd := &s.first
	rd.s = s
	s.firstSlot[0] = rd
	s.readers = s.firstSlot[:]
	return rd
}

// attach adds a reader from the start of the body, or returns nil when the
// start is gone or the fetch was abandoned.
func (s *stream) attach() *reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abandoned || s.base > 0 {
		return nil
	}
	rd := &reader{s: s}
	s.readers = append(s.readers, rd)
	return rd
}

// setOnIdle sets what runs when the last reader leaves; at once if none is
// left.
func (s *stream) setOnIdle(fn func()) {
	s.mu.Lock()
	s.onIdle = fn
	idle := len(s.readers) == 0
	s.mu.Unlock()
	if idle {
		fn()
	}
}

// start publishes the status line and header.
func (s *stream) start(status int, header http.Header, cs cacheStatus, upstream string, shared, storing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.header, s.cs, s.upstream, s.shared, s.storing = status, header, cs, upstream, shared, storing
	s.retain = shared
	s.cond.Broadcast()
}

// publish makes buf, the fetch's whole buffer so far, readable.
func (s *stream) publish(buf []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = buf
	s.cond.Broadcast()
}

// push appends a copy of b in window mode, first waiting while the slowest
// reader is more than streamWindow behind. False when no reader is left.
func (s *stream) push(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retain = false
	for len(s.readers) > 0 && s.unreadLocked() > streamWindow {
		s.cond.Wait()
	}
	if len(s.readers) == 0 {
		return false
	}
	s.trimLocked()
	s.data = append(s.data, b...)
	s.cond.Broadcast()
	return true
}

// unreadLocked is what the slowest reader has still to read.
func (s *stream) unreadLocked() int64 {
	low := s.base + int64(len(s.data))
	for _, rd := range s.readers {
		low = min(low, rd.pos)
	}
	return s.base + int64(len(s.data)) - low
}

// trimLocked drops what every reader has read, copying the rest to a new
// array when that frees most of the old one.
func (s *stream) trimLocked() {
	low := s.base + int64(len(s.data))
	for _, rd := range s.readers {
		low = min(low, rd.pos)
	}
	drop := low - s.base
	if drop <= 0 {
		return
	}
	rest := s.data[drop:]
	if drop > int64(len(rest)) {
		rest = append([]byte(nil), rest...)
	}
	s.data, s.base = rest, low
}

// end marks the end of the body; complete is false when it was cut short,
// stored true when the fetch stored it.
func (s *stream) end(complete, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended, s.complete, s.stored = true, complete, stored
	s.cond.Broadcast()
}

// next waits for bytes past the reader's position or the end, and returns
// them (a view, never written to again).
func (rd *reader) next() (b []byte, ended, complete bool) {
	s := rd.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for rd.pos >= s.readableLocked() && !s.ended {
		s.cond.Wait()
	}
	if i, j := rd.pos-s.base, s.readableLocked()-s.base; i >= 0 && i < j {
		b = s.data[i:j]
	}
	return b, s.ended && rd.pos+int64(len(b)) >= s.base+int64(len(s.data)), s.complete
}

// headerHoldBytes is how much of a body being stored may arrive before its
// header is written without waiting for the end.
const headerHoldBytes = 64 << 10

// holdHeaderLocked reports whether a reader should not write the header
// yet. Cache-Status says "stored" only of an answer stored (red team K1: a
// body cut short or grown past MaxObjectSize was announced stored). The
// header of an answer being stored therefore waits for its end while the
// body is at most headerHoldBytes (and still buffered), which is how most
// objects arrive: their header says what happened. A longer body's header
// goes at headerHoldBytes without "stored": whether it was shows on the
// next request.
func (s *stream) holdHeaderLocked() bool {
	return s.storing && s.retain && !s.ended && s.base+int64(len(s.data)) < headerHoldBytes
}

// readableLocked is the offset readers may read up to. The last byte of a
// body being stored is held back until the fetch has stored it (end), so a
// client that got a whole answer finds it in the cache.
func (s *stream) readableLocked() int64 {
	n := s.base + int64(len(s.data))
	if s.retain && !s.ended && n > 0 {
		n--
	}
	return n
}

// advance records that the reader's client took n more bytes.
func (rd *reader) advance(n int) {
	s := rd.s
	s.mu.Lock()
	rd.pos += int64(n)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// detach removes the reader; the last one to leave runs onIdle. Detaching
// twice is harmless.
func (rd *reader) detach() {
	s := rd.s
	s.mu.Lock()
	i := slices.Index(s.readers, rd)
	if i < 0 {
		s.mu.Unlock()
		return
	}
	s.readers = slices.Delete(s.readers, i, i+1)
	idle := len(s.readers) == 0
	if idle && !s.retain {
		s.abandoned = true
	}
	onIdle := s.onIdle
	s.cond.Broadcast()
	s.mu.Unlock()
	if idle && onIdle != nil {
		onIdle()
	}
}

// streamWriter is what a stream's reader needs of a ResponseWriter
// besides writing: to bound each write and to flush it.
type streamWriter interface {
	SetWriteDeadline(time.Time) error
	FlushError() error
}

// streamController returns w's deadline and flush: w's own methods when
// it has them (the fast path's writer and net/http's), without the
// allocation of an http.ResponseController, else one.
func streamController(w http.ResponseWriter) streamWriter {
	if sw, ok := w.(streamWriter); ok {
		return sw
	}
	return responseController{http.NewResponseController(w)}
}

// responseController is an http.ResponseController as a streamWriter.
type responseController struct{ *http.ResponseController }

func (c responseController) FlushError() error { return c.Flush() }

// serve writes the answer to one client: the header with its Cache-Status,
// then the body as it arrives, each write bounded by writeTimeout. A body
// cut short aborts the client's connection, the only way to tell it.
func (rd *reader) serve(w http.ResponseWriter, r *http.Request, leader bool, writeTimeout time.Duration) {
	defer rd.detach()
	s := rd.s
	s.mu.Lock()
	for s.holdHeaderLocked() {
		s.cond.Wait()
	}
	status, cs, upstream := s.status, s.cs, s.upstream
	cs.stored, cs.collapsed = s.stored, !leader
	h := w.Header()
	for k, v := range s.header {
		h[k] = v
	}
	s.mu.Unlock()
	h["Cache-Status"] = []string{cs.after(upstream)}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	rc := streamController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	for {
		b, ended, complete := rd.next()
		if len(b) > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write(b); err != nil {
				return // gone or too slow: the deferred detach frees the others
			}
			_ = rc.FlushError()
			rd.advance(len(b))
		}
		if ended {
			if !complete {
				rd.detach()
				panic(http.ErrAbortHandler)
			}
			return
		}
	}
}
