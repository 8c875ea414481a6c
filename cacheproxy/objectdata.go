package cacheproxy

import (
	"bytes"
	"iter"
	"strconv"
	"strings"
	"unsafe"
)

// A sealed object is its struct, its key and one block of bytes without
// pointers:
//
//	data: rendered head | body | upstream Cache-Status | tags, '\n' between tags
//
// (the body in data only up to maxPackedBody). data is in a slab block
// outside the Go heap when it fits one (slab.go): it is most of a small
// object's bytes, and there it costs its size, not twice its size, and
// nothing to the collector. It is freed once the object is unreachable, so
// what is made from it (the head and body the fast path writes, and the
// strings upstreamStatus, etag, lastModified and tagList return) must not
// outlive the object; tagSlice copies. The validators are read from the
// rendered head (wirehead.go), where they are anyway. The key, which the
// store's index keeps, is the object's one allocation on the Go heap
// besides its struct. The rendered head is what the fast path writes; the
// full handler decodes it once, into strings of its own, into the header
// it serves (servedHeader). data is not written after seal: the strings
// made from it with unsafe.String stay immutable, as Go strings must.

// maxPackedBody is the largest body seal copies into data. A larger one
// keeps its own allocation (one more object to mark is nothing next to its
// size), so that a revalidation's new object shares it instead of copying
// it.
const maxPackedBody = 16 << 10

// objectParts is an object as a fetch builds it, before seal.
type objectParts struct {
	header         []headerField // served as is: no hop-by-hop, tag, Age or Cache-Status fields
	tags           []string
	upstreamStatus string // the origin's own Cache-Status value, if any
	etag           string
	lastModified   string
}

// seal packs the object into data and computes its size. It is called
// once, before the object is stored or handed to anyone, by the goroutine
// that built it; sealing a sealed object does nothing. It leaves variantOf
// alone: the waiters of a fill read it while it runs (coalesce.go).
func (o *object) seal() {
	if o.data != nil {
		return
	}
	if o.parts == nil {
		o.parts = &objectParts{}
	}
	o.key = strings.Clone(o.key) // its own allocation, nothing more: the index keeps it
	dataLen := o.sealData()
	o.parts = nil
	o.size = int64(objectOverhead) + int64(len(o.key))
	if o.inSlab {
		o.size += int64(slabClassSize(slabClass(dataLen)))
	} else {
		o.size += int64(dataLen)
	}
	if len(o.body) > maxPackedBody {
		o.size += int64(len(o.body))
	}
	for range o.tagList() {
		o.size += 64 // its entry in the shard's tag index
	}
	if v := o.variantOf; v != nil {
		o.size += int64(len(v.values)) + 48 // and the variant struct
		for _, f := range v.fields {
			o.size += int64(len(f)) + 16
		}
	}
}

// sealData renders the head and packs it with a body of up to
// maxPackedBody bytes, the upstream Cache-Status and the tags into a slab
// block, or onto the Go heap when no block fits, and returns the length of
// data. A value too long for its length field (4 GiB) cannot arrive:
// response heads are bounded far below that.
func (o *object) sealData() int {
	pt := o.parts
	packBody := len(o.body) <= maxPackedBody
	hl := headLen(int(o.status), pt.header)
	bl := 0
	if packBody {
		bl = len(o.body)
	}
	tl := max(len(pt.tags)-1, 0)
	for _, t := range pt.tags {
		tl += len(t)
	}
	extra := len(pt.upstreamStatus) + tl
	n := hl + bl + extra
	data, blk, inSlab := slabs.alloc(n)
	if !inSlab {
		data = make([]byte, n)
	}
	// data[:0:hl]: were headLen short of what appendHead writes, append
	// would move the head rather than write past it.
	head, fast := appendHead(data[:0:hl], int(o.status), pt.header)
	if len(head) != hl {
		if inSlab {
			slabs.free(blk)
			inSlab = false
		}
		hl, n = len(head), len(head)+bl+extra
		data = append(head, make([]byte, n-len(head))...)
	}
	if packBody {
		copy(data[hl:], o.body)
		o.body = data[hl : hl+bl : hl+bl]
	}
	rest := append(data[hl+bl:hl+bl], pt.upstreamStatus...)
	for i, t := range pt.tags {
		if i > 0 {
			rest = append(rest, '\n')
		}
		rest = append(rest, t...)
	}
	o.data, o.headEnd, o.fast = unsafe.Pointer(unsafe.SliceData(data)), uint32(hl), fast
	o.upstreamLen, o.tagsLen = uint32(len(pt.upstreamStatus)), uint32(tl)
	if inSlab {
		o.inSlab = true
		freeWhenUnreachable(o, blk)
	}
	return n
}

// extra is the upstream Cache-Status and the tags in data, after the head
// and the packed body.
func (o *object) extra() string {
	at := int(o.headEnd)
	if len(o.body) <= maxPackedBody {
		at += len(o.body)
	}
	return unsafe.String((*byte)(unsafe.Add(o.data, at)), int(o.upstreamLen+o.tagsLen))
}

// upstreamStatus is the origin's own Cache-Status value, if any; ours is
// appended to it (RFC 9211 §2: the closest cache to the user comes last).
// Like the body, it is in data once sealed: it must not outlive o.
func (o *object) upstreamStatus() string {
	if o.parts != nil {
		return o.parts.upstreamStatus
	}
	if o.upstreamLen == 0 {
		return ""
	}
	return o.extra()[:o.upstreamLen]
}

// etag is the stored Etag field value, if any. Once sealed, it is in the
// rendered head: it must not outlive o.
func (o *object) etag() string {
	if o.parts != nil {
		return o.parts.etag
	}
	return o.headValue("\r\nEtag: ")
}

// lastModified is the stored Last-Modified field value, if any. Once
// sealed, it is in the rendered head: it must not outlive o.
func (o *object) lastModified() string {
	if o.parts != nil {
		return o.parts.lastModified
	}
	return o.headValue("\r\nLast-Modified: ")
}

// headValue is the value of the first field line of the rendered head
// that starts with line ("\r\n", the canonical name, ": "), "" if none:
// the value newObject took with http.Header.Get, as net/http writes it
// (wireValue; a value that differs, one with CR or LF in it, the origin's
// client never hands over).
func (o *object) headValue(line string) string {
	head := o.head()
	i := bytes.Index(head, []byte(line))
	if i < 0 {
		return ""
	}
	at := i + len(line)
	end := at + bytes.Index(head[at:], []byte("\r\n"))
	return dataString(head, at, end-at)
}

// dataString is data[at:at+n] as a string sharing data's memory.
func dataString(data []byte, at, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&data[at], n)
}

// head is the object's rendered response head (wirehead.go).
// Like the body, it is in data: it must not outlive the object.
func (o *object) head() []byte { return unsafe.Slice((*byte)(o.data), o.headEnd) }

// tagList yields the object's tags.
func (o *object) tagList() iter.Seq[string] {
	return func(yield func(string) bool) {
		if o.data == nil {
			for _, t := range o.partTags() {
				if !yield(t) {
					return
				}
			}
			return
		}
		for rest := o.extra()[o.upstreamLen:]; rest != ""; {
			t, after, _ := strings.Cut(rest, "\n")
			if !yield(t) {
				return
			}
			rest = after
		}
	}
}

// partTags is the tags of an object not sealed yet.
func (o *object) partTags() []string {
	if o.parts == nil {
		return nil
	}
	return o.parts.tags
}

// tagSlice returns copies of the object's tags on the Go heap (they may
// outlive o) in a new slice, nil if none.
func (o *object) tagSlice() []string {
	var tags []string
	for t := range o.tagList() {
		tags = append(tags, strings.Clone(t))
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
		if o.parts == nil {
			return nil
		}
		return o.parts.header
	}
	if sh := o.served.Load(); sh != nil {
		return sh.fields
	}
	head := bytes.Clone(o.head()) // the fields' strings outlive the object's data
	sh := &servedHeader{fields: decodeHead(head, 0, head), ageSec: -1}
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
			age: []string{strconv.FormatInt(ageSec, 10)}, status: []string{cs.after(o.upstreamStatus())}}
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
