package cacheproxy

import (
	"bytes"
	"iter"
	"strconv"
	"strings"
	"unsafe"
)

// A sealed object's data: everything it holds beyond numbers, in one
// allocation without pointers.
//
//	key | upstream Cache-Status | tags, '\n' between | rendered head | body
//
// (the body only up to maxPackedBody).//
// The struct's key, upstreamStatus, etag and lastModified strings and its
// body point into it (etag and lastModified at their values in the
// head), so the collector marks one object it need not scan instead of a
// header slice, a values slice and a string per field, a tag slice and a
// string per tag. The rendered head (wirehead.go) is what the fast path
// writes; the full handler decodes it once into the header it serves
// (servedHeader). data is never written after seal: the strings made from
// it with unsafe.String stay immutable, as Go strings must.

// maxPackedBody is the largest body seal copies into data. A larger one
// keeps its own allocation (one more object to mark is nothing next to its
// size), so that a revalidation's new object shares it instead of copying
// it.
const maxPackedBody = 16 << 10

// seal packs the object into data and computes its size. It is called
// once, before the object is stored or handed to anyone, by the goroutine
// that built it. It leaves vary and variant alone: the waiters of a fill
// read them while it runs (coalesce.go); variant is empty but for objects
// with Vary.
func (o *object) seal() {
	if o.data == nil {
		packBody := len(o.body) <= maxPackedBody
		n := len(o.key) + len(o.upstreamStatus) + headLen(o.status, o.header)
		if packBody {
			n += len(o.body)
		}
		for _, t := range o.tags {
			n += len(t) + 1
		}
		data := make([]byte, 0, n)
		data = append(data, o.key...)
		data = append(data, o.upstreamStatus...)
		tagsAt := len(data)
		for i, t := range o.tags {
			if i > 0 {
				data = append(data, '\n')
			}
			data = append(data, t...)
		}
		headAt := len(data)
		data, o.fast = appendHead(data, o.status, o.header)
		etagAt := headValue(data, headAt, len(data), "Etag", o.etag)
		lastModifiedAt := headValue(data, headAt, len(data), "Last-Modified", o.lastModified)
		headEnd := len(data)
		if packBody {
			data = append(data, o.body...)
			o.body = data[headEnd:len(data):len(data)]
		}

		o.key = dataString(data, 0, len(o.key))
		o.upstreamStatus = dataString(data, len(o.key), len(o.upstreamStatus))
		o.etag = sealedValue(data, etagAt, o.etag)
		o.lastModified = sealedValue(data, lastModifiedAt, o.lastModified)
		o.data = data
		o.tagsAt, o.headAt, o.headEnd = uint32(tagsAt), uint32(headAt), uint32(headEnd)
		o.header, o.tags = nil, nil
	}
	o.size = int64(objectOverhead) + int64(cap(o.data))
	if len(o.body) > maxPackedBody {
		o.size += int64(len(o.body))
	}
	for range o.tagList() {
		o.size += 64 // its entry in the shard's tag index
	}
	o.size += int64(len(o.variant))
	for _, v := range o.vary {
		o.size += int64(len(v)) + 16
	}
}

// dataString is data[at:at+n] as a string sharing data's memory.
func dataString(data []byte, at, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&data[at], n)
}

// headValue returns where the rendered head data[headAt:headEnd] holds
// value as name's first value: its offset in data, or -1 when the head does
// not hold it as is (it was cleaned, or belongs to a field the head leaves
// out).
func headValue(data []byte, headAt, headEnd int, name, value string) int {
	if value == "" {
		return -1
	}
	at := headAt
	for line := range bytes.Lines(data[headAt:headEnd]) {
		lineAt := at
		at += len(line)
		if len(line) > len(name)+2 && string(line[:len(name)]) == name && string(line[len(name):len(name)+2]) == ": " {
			if string(line[len(name)+2:len(line)-2]) == value {
				return lineAt + len(name) + 2
			}
			return -1
		}
	}
	return -1
}

// sealedValue is value in data at offset at, or a copy of it when at is -1.
func sealedValue(data []byte, at int, value string) string {
	if at < 0 {
		return strings.Clone(value)
	}
	return dataString(data, at, len(value))
}

// head is the object's rendered response head (wirehead.go).
func (o *object) head() []byte { return o.data[o.headAt:o.headEnd] }

// tagList yields the object's tags.
func (o *object) tagList() iter.Seq[string] {
	return func(yield func(string) bool) {
		if o.data == nil {
			for _, t := range o.tags {
				if !yield(t) {
					return
				}
			}
			return
		}
		rest := o.data[o.tagsAt:o.headAt]
		at := int(o.tagsAt)
		for len(rest) > 0 {
			n := bytes.IndexByte(rest, '\n')
			if n < 0 {
				n = len(rest)
			}
			if !yield(dataString(o.data, at, n)) {
				return
			}
			if n == len(rest) {
				return
			}
			rest, at = rest[n+1:], at+n+1
		}
	}
}

// tagSlice returns the object's tags in a new slice, nil if none.
func (o *object) tagSlice() []string {
	var tags []string
	for t := range o.tagList() {
		tags = append(tags, t)
	}
	return tags
}

// servedHeader is what the full handler serves of an object: its fields,
// decoded once from the rendered head, and the Age and Cache-Status values
// of a fresh hit, kept for as long as they stay the same (one second), so
// hits allocate nothing for them. Served slices are shared and never
// modified.
type servedHeader struct {
	fields         []headerField
	ageSec, ttlSec int64
	age, status    []string
}

// fields returns the object's header fields.
func (o *object) fields() []headerField {
	if o.data == nil {
		return o.header
	}
	if sh := o.served.Load(); sh != nil {
		return sh.fields
	}
	sh := &servedHeader{fields: decodeHead(o.data, int(o.headAt), o.head()), ageSec: -1}
	o.served.CompareAndSwap(nil, sh)
	return o.served.Load().fields
}

// hitValues returns the Age and Cache-Status values of a fresh hit with
// ageSec and ttlSec, allocating only when they changed.
func (o *object) hitValues(ageSec, ttlSec int64, cs cacheStatus) (age, status []string) {
	fields := o.fields()
	sh := o.served.Load()
	if sh == nil || sh.ageSec != ageSec || sh.ttlSec != ttlSec {
		sh = &servedHeader{fields: fields, ageSec: ageSec, ttlSec: ttlSec,
			age: []string{strconv.FormatInt(ageSec, 10)}, status: []string{cs.after(o.upstreamStatus)}}
		o.served.Store(sh)
	}
	return sh.age, sh.status
}

// decodeHead returns the fields of a rendered head (data[headAt:] is head),
// their names and values sharing data's memory.
func decodeHead(data []byte, headAt int, head []byte) []headerField {
	var fields []headerField
	at := headAt
	first := true
	for line := range bytes.Lines(head) {
		lineAt := at
		at += len(line)
		if first { // the status line
			first = false
			continue
		}
		colon := bytes.Index(line, []byte(": "))
		name := dataString(data, lineAt, colon)
		value := dataString(data, lineAt+colon+2, len(line)-colon-4)
		if n := len(fields); n > 0 && fields[n-1].name == name {
			fields[n-1].values = append(fields[n-1].values, value)
			continue
		}
		fields = append(fields, headerField{name: name, values: []string{value}})
	}
	for i := range fields {
		fields[i].values = fields[i].values[:len(fields[i].values):len(fields[i].values)]
	}
	return fields
}
