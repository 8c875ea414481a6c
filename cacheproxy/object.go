package cacheproxy

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// object is one stored response: one Vary variant of one URL. Its exported
// content never changes after it is stored; a revalidation stores a new
// object that shares the body. Fields marked "guarded by shard.mu" belong to
// the store; the atomics may be touched by anyone.
//
// A fetch builds an object with its header, tags and validators (parts),
// then seal packs it (objectdata.go): the rendered response head, the body
// up to 16 KiB, the upstream Cache-Status and the tags into one block
// outside the Go heap (data, slab.go), with the struct's body pointing
// into it, and the key into an allocation of its own (the store's index
// keeps it). A million stored objects are then two million heap objects
// for the collector to mark (the struct and its key, which it does not
// scan), not twenty million, and most of their bytes are not on the Go
// heap at all.
//
// The struct is what a stored object costs the Go heap besides its key and
// its index entries, and at GOGC=100 it costs twice that in RSS: what
// every stored object needs is kept here, in fields no wider than their
// values need; what only some need (the Vary values of a variant) or only
// a fetch needs (parts) is behind a pointer; strings in data are lengths,
// not string headers. 192 bytes, a size class of its own
// (TestObjectStaysSmall).
type object struct {
	key string // primary key (key.go); its own allocation once sealed

	variantOf *variant     // the Vary fields and the request's values that select this variant; nil without Vary
	parts     *objectParts // the object as a fetch builds it; nil once sealed
	served    atomic.Pointer[servedHeader]
	data      unsafe.Pointer // rendered head and packed body (objectdata.go); nil before seal
	body      []byte         // in data once sealed, up to maxPackedBody

	storedAt     int64 // unix nanos when the origin last vouched for the content (request time of the fetch or revalidation)
	responseTime int64 // unix nanos when the response arrived
	initialAge   time.Duration
	lifetime     time.Duration
	swr          time.Duration // stale-while-revalidate window past lifetime (RFC 5861)
	sie          time.Duration // stale-if-error window past lifetime (RFC 5861)
	size         int64         // bytes charged to the cache

	banSeq       atomic.Uint64 // newest ban this object was checked against (ban.go)
	softPurgedAt atomic.Int64  // unix nanos of a soft purge, 0 if none

	// Guarded by the owning shard's mu.
	newer, older *object // SIEVE queue: head is newest
	nextVariant  *object // next (older) variant of the same key

	headEnd              uint32      // data[:headEnd] is the rendered head (wirehead.go)
	upstreamLen, tagsLen uint32      // the upstream Cache-Status and the tags in data (objectdata.go)
	visited              atomic.Bool // SIEVE visited bit, set on hits
	status               uint16
	noCache              bool
	noStale              bool
	fast                 bool // the fast path may write the rendered head (wirehead.go)
	inSlab               bool // data is a slab block (slab.go), not on the Go heap
	removed              bool // no longer in the store; guarded by the owning shard's mu
}

// variant is what selects one Vary variant of a URL: the canonical field
// names from the response's Vary, sorted, and the values
// (variantValues(fields, request header)) of the request that fetched it.
type variant struct {
	fields []string
	values string
}

// vary is the object's Vary fields, nil without Vary.
func (o *object) vary() []string {
	if o.variantOf == nil {
		return nil
	}
	return o.variantOf.fields
}

// variant is variantValues(o.vary(), request header) of the request that
// fetched o; empty without Vary.
func (o *object) variant() string {
	if o.variantOf == nil {
		return ""
	}
	return o.variantOf.values
}

// newVariant is the variant of fields and values, nil when both are empty.
func newVariant(fields []string, values string) *variant {
	if fields == nil && values == "" {
		return nil
	}
	return &variant{fields: fields, values: values}
}

// storedResponse is what an object is made of, besides its storage
// policy: the response's fields and when and how it was fetched.
type storedResponse struct {
	key, variant   string
	vary           []string
	status         int
	header         http.Header // the fields to serve but Age and Content-Length; read, never written
	body           []byte      // nil while the body is still arriving
	tags           []string
	upstreamStatus string
	requestTime    int64 // unix nanos: the fetch's (or revalidation's) request time
	responseTime   int64 // unix nanos: when the response arrived
	initialAge     time.Duration
	banSeq         uint64 // the newest ban when the fetch started
}

// newObject is the one constructor of a stored object: a fill's answer
// (fill.go) and the copy a 304 refreshes (revalidate.go) are both made
// here. Its header keeps every field of r.header but Age and
// Content-Length (the caller sets Content-Length once the body is known).
func newObject(r storedResponse, pol policy) *object {
	o := &object{
		key:       r.key,
		variantOf: newVariant(r.vary, r.variant),
		status:    uint16(r.status),
		parts: &objectParts{header: ownedHeaderList(r.header), tags: r.tags, upstreamStatus: r.upstreamStatus,
			etag: r.header.Get("Etag"), lastModified: r.header.Get("Last-Modified")},
		body:         r.body,
		storedAt:     r.requestTime,
		responseTime: r.responseTime,
		initialAge:   r.initialAge,
		lifetime:     pol.lifetime,
		swr:          pol.swr,
		sie:          pol.sie,
		noCache:      pol.noCache,
		noStale:      pol.noStale,
	}
	o.banSeq.Store(r.banSeq)
	return o
}

// headerField is one stored response header. values is never appended to
// in place (its capacity equals its length), so serving it shares the slice.
type headerField struct {
	name   string
	values []string
}

// objectOverhead is the memory an object costs beyond its key, its data
// (rendered head, packed body, upstream Cache-Status and tags, charged at
// its slab block's size class), its variant and its Vary names: the
// struct, its map slot, its key's place in the shard's B-tree, its place
// in the SIEVE queue, the cleanup that frees its block (slab.go); seal
// adds 64 B per tag for its entry in the tag index. A heap profile of
// BenchmarkMemoryPerObjectParsed (objects as the invalidation benchmark
// stores them, three tags) showed the map slot and B-tree item at about
// 65 B, the three tag entries at about 80 B and the cleanup at 32 B; the
// struct is 192 B. That is about 400 B of live heap per such object
// besides its key, which at GOGC=100 the collector lets grow to twice: the
// constant covers the live heap with room, erring on the safe side
// (under-charging would let the heap outgrow --memory-limit). It also
// covers the header an object served by the full handler decodes once
// (servedHeader, a copy of the head and about 60 B per field).
const objectOverhead = 600

// headerList turns h into the stored form, sorted by name for determinism.
func headerList(h http.Header) []headerField {
	fields := make([]headerField, 0, len(h))
	for name, values := range h {
		fields = append(fields, headerField{name: name, values: slices.Clip(slices.Clone(values))})
	}
	slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	return slices.Clip(fields)
}

// ownedHeaderList is headerList without Age and Content-Length for a
// header whose value slices nobody writes (the origin's answer, which the
// clients' stream reads too; the merge of a 304): it shares them, clipped,
// instead of copying them, and leaves room for the one field a fill adds
// once its body is known (Content-Length, setField).
func ownedHeaderList(h http.Header) []headerField {
	fields := make([]headerField, 0, len(h)+1)
	for name, values := range h {
		if name == "Age" || name == fieldContentLength {
			continue
		}
		fields = append(fields, headerField{name: name, values: slices.Clip(values)})
	}
	slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	return fields
}

// headerMap returns a fresh http.Header holding the stored fields.
func (o *object) headerMap() http.Header {
	fields := o.fields()
	h := make(http.Header, len(fields))
	for _, f := range fields {
		h[f.name] = slices.Clone(f.values)
	}
	return h
}

// age is the object's current_age (RFC 9111 §4.2.3) at now.
func (o *object) age(now int64) time.Duration {
	return o.initialAge + time.Duration(max(now-o.responseTime, 0))
}

// ttl is the remaining freshness at now: negative once stale. A soft purge
// makes the object stale from the purge on.
func (o *object) ttl(now int64) time.Duration {
	if o.noCache {
		return -o.age(now)
	}
	ttl := o.lifetime - o.age(now)
	if sp := o.softPurgedAt.Load(); sp != 0 && ttl > 0 {
		return -time.Duration(max(now-sp, 0)) - time.Nanosecond
	}
	return ttl
}

// fresh reports whether the object may be served without contacting the origin.
func (o *object) fresh(now int64) bool {
	return o.ttl(now) > 0 && o.softPurgedAt.Load() == 0
}

// staleUsable reports whether the stale object may still be served at now:
// within window past the end of its freshness (its stale-while-revalidate
// or stale-if-error), or within softGrace of a soft purge. Objects whose
// origin forbade stale use (must-revalidate, proxy-revalidate, no-cache)
// never are.
func (o *object) staleUsable(now int64, window time.Duration, softGrace time.Duration) bool {
	if o.noStale {
		return false
	}
	if sp := o.softPurgedAt.Load(); sp != 0 && now-sp <= int64(softGrace) {
		return true
	}
	return -o.ttl(now) <= window
}

// hasValidator reports whether a conditional request can revalidate o.
func (o *object) hasValidator() bool { return o.etag() != "" || o.lastModified() != "" }

// contentLength is the stored Content-Length field value.
func contentLength(n int) []string { return []string{strconv.Itoa(n)} }
