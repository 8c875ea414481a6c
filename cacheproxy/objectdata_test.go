package cacheproxy

import (
	"bytes"
	"net/http"
	"slices"
	"testing"
	"unsafe"
)

// TestSealKeepsWhatTheObjectHolds: a sealed object serves the same
// fields (values as net/http writes them), tags, validators, upstream
// Cache-Status and body as the object a fetch built, from one allocation,
// and renders the head net/http would write.
func TestSealKeepsWhatTheObjectHolds(t *testing.T) {
	h := http.Header{
		"Content-Type":   {"text/html"},
		"Set-Cookie-Ish": {"a=1", "", "b=2"},
		"Etag":           {`"v1"`},
		"Last-Modified":  {"Thu, 01 Jan 2026 00:00:00 GMT"},
		"X-Folded":       {"one\r\ntwo"},
		"Content-Length": {"5"},
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		packed bool
	}{
		{"small body", []byte("hello"), true},
		{"empty body", nil, true},
		{"large body", bytes.Repeat([]byte("x"), maxPackedBody+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &object{key: "example.com/a?b", variantOf: newVariant(nil, "gzip"), status: http.StatusOK,
				parts: &objectParts{header: headerList(h), tags: []string{"t1", "t-2"}, upstreamStatus: "upstream; hit",
					etag: `"v1"`, lastModified: "Thu, 01 Jan 2026 00:00:00 GMT"}, body: slices.Clone(tc.body)}
			// Not inUse: cleanups of earlier tests' objects free blocks
			// at any time.
			handedOut := slabs.handedOut.Load()
			o.seal()
			if o.parts != nil {
				t.Fatal("seal kept the header and tags beside data")
			}
			if o.key != "example.com/a?b" || o.variant() != "gzip" || o.upstreamStatus() != "upstream; hit" ||
				o.etag() != `"v1"` || o.lastModified() != "Thu, 01 Jan 2026 00:00:00 GMT" || !bytes.Equal(o.body, tc.body) {
				t.Fatalf("sealed object holds key %q variant %q upstream %q etag %q last-modified %q body %d bytes",
					o.key, o.variant(), o.upstreamStatus(), o.etag(), o.lastModified(), len(o.body))
			}
			data := unsafe.Slice((*byte)(o.data), int(o.headEnd)+len(tc.body)+int(o.upstreamLen+o.tagsLen))
			if !tc.packed {
				data = unsafe.Slice((*byte)(o.data), int(o.headEnd+o.upstreamLen+o.tagsLen))
			}
			var firstTag string
			for t := range o.tagList() {
				firstTag = t
				break
			}
			for _, s := range []string{o.upstreamStatus(), o.etag(), o.lastModified(), firstTag} {
				if !inData(data, unsafe.Pointer(unsafe.StringData(s))) {
					t.Errorf("%q is not in the object's data", s)
				}
			}
			if grew := slabs.handedOut.Load() - handedOut; !o.inSlab || grew != int64(slabClassSize(slabClass(len(data)))) {
				t.Errorf("data (%d bytes) is not in a slab block: slabs grew by %d", len(data), grew)
			}
			if len(tc.body) > 0 && inData(data, unsafe.Pointer(unsafe.SliceData(o.body))) != tc.packed {
				t.Errorf("body in data: %v, want %v", !tc.packed, tc.packed)
			}
			if got := o.tagSlice(); !slices.Equal(got, []string{"t1", "t-2"}) {
				t.Errorf("tags %q", got)
			}
			want := http.Header{
				"Content-Type": {"text/html"}, "Set-Cookie-Ish": {"a=1", "", "b=2"}, "Etag": {`"v1"`},
				"Last-Modified": {"Thu, 01 Jan 2026 00:00:00 GMT"}, "X-Folded": {"one  two"}, "Content-Length": {"5"},
			}
			if got := o.headerMap(); !equalHeader(got, want) {
				t.Errorf("fields %q, want %q", got, want)
			}
			if !o.fast || !bytes.HasPrefix(o.head(), []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html\r\n")) {
				t.Errorf("head %q, fast %v", o.head(), o.fast)
			}
			if min := int64(objectOverhead + len(o.key) + len(tc.body)); o.size < min {
				t.Errorf("charged %d, less than %d", o.size, min)
			}
		})
	}
}

// TestObjectStaysSmall: the struct of a stored object is most of what the
// object costs the Go heap (twice that in RSS at GOGC=100); a field added
// without need shows here: 192 bytes, a size class of the allocator.
func TestObjectStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(object{}); size > 192 {
		t.Errorf("object is %d bytes, more than 192 (a size class of the allocator)", size)
	}
}

// TestSealLeavesOthersToTheHandler: objects the fast path must not write
// are sealed with fast false, and keep their fields for the full handler.
func TestSealLeavesOthersToTheHandler(t *testing.T) {
	for name, o := range map[string]*object{
		"404":             {status: http.StatusNotFound, parts: &objectParts{header: headerList(http.Header{"Content-Type": {"text/plain"}})}},
		"no Content-Type": {status: http.StatusOK, parts: &objectParts{header: headerList(http.Header{"Etag": {`"x"`}})}},
		"bad field name":  {status: http.StatusOK, parts: &objectParts{header: headerList(http.Header{"Content-Type": {"a"}, "Bad Name": {"v"}})}},
	} {
		o.seal()
		if o.fast {
			t.Errorf("%s: fast", name)
		}
		if f := o.fields(); len(f) == 0 || f[0].name == "Bad Name" {
			t.Errorf("%s: fields %v", name, f)
		}
	}
}

func inData(data []byte, p unsafe.Pointer) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return uintptr(p) >= start && uintptr(p) < start+uintptr(cap(data))
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
