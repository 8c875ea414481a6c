package cacheproxy

import (
	"strconv"
	"time"
)

// Cache-Status (RFC 9211). Every response carries one member from this
// proxy, appended after any the origin sent:
//
//	cacheproxy; hit; ttl=42                                  fresh hit
//	cacheproxy; fwd=stale; ttl=-3; detail=stale-while-revalidate
//	                                                         stale copy served, refresh in background
//	cacheproxy; fwd=stale; ttl=-3; detail=soft-purged        the same after a soft purge
//	cacheproxy; fwd=stale; fwd-status=503; ttl=-3; detail=stale-if-error
//	                                                         origin failed, stale copy served
//	cacheproxy; fwd=stale; fwd-status=304; ttl=60            revalidated, stored copy served
//	cacheproxy; fwd=uri-miss; fwd-status=200; stored         miss, response stored
//	cacheproxy; fwd=vary-miss; fwd-status=200; stored        URL cached, but not this variant
//	cacheproxy; fwd=uri-miss; fwd-status=200; collapsed      waited for another client's miss
//	cacheproxy; fwd=method; fwd-status=201                   unsafe method, passed through
//	cacheproxy; fwd=bypass; fwd-status=206; detail=range     not handled by the cache
//	cacheproxy; fwd=uri-miss; detail=origin-refused          origin unreachable (502)
//	cacheproxy; fwd=method; detail=request-body-timeout      request body too slow (408, reqbody.go)
//
// "detail=not-stored-<why>" says why a forwarded response was not stored.
// "stored" is said only of a response stored before its header was
// written (red team K1): the header of a body being stored waits for its
// end up to 64 KiB (stream.go); a longer one's goes without "stored", and
// the next request shows whether it was:
//
//	cacheproxy; fwd=uri-miss; fwd-status=200                 miss, not stored, or over 64 KiB

// cacheStatusName is the cache's name in Cache-Status.
const cacheStatusName = "cacheproxy"

// fwdReason is why a response was forwarded from the origin (RFC 9211
// §2.2), its fwd parameter.
type fwdReason string

// Forward reasons.
const (
	fwdURIMiss  fwdReason = "uri-miss"
	fwdVaryMiss fwdReason = "vary-miss"
	fwdStale    fwdReason = "stale"
	fwdMethod   fwdReason = "method"
	fwdBypass   fwdReason = "bypass"
)

// cacheDetail is the detail parameter: what else explains the response.
type cacheDetail string

// Details.
const (
	detailNone                 cacheDetail = ""
	detailStaleWhileRevalidate cacheDetail = "stale-while-revalidate"
	detailSoftPurged           cacheDetail = "soft-purged"
	detailStaleIfError         cacheDetail = "stale-if-error"
	detailRange                cacheDetail = "range"
	detailUpgrade              cacheDetail = "upgrade"
	detailRequestBody          cacheDetail = "request-body"
	detailRefused              cacheDetail = "refused"
	detailRequestBodyTimeout   cacheDetail = "request-body-timeout"
	detailRequestBodyInvalid   cacheDetail = "request-body-invalid"
	detailOriginTimeout        cacheDetail = "origin-timeout"
	detailOriginRefused        cacheDetail = "origin-refused"
	detailOriginCoding         cacheDetail = "origin-unsupported-transfer-coding"
	detailOriginError          cacheDetail = "origin-error"
	detailOriginInvalid        cacheDetail = "origin-invalid-response" // refused as malformed or smuggling-prone (originresponse.go)
	detailClientClosed         cacheDetail = "client-closed"
)

// notStoredDetail is "not-stored-<why>": why a forwarded response was not
// stored (freshness.go's policy.why).
func notStoredDetail(why string) cacheDetail { return cacheDetail("not-stored-" + why) }

// describe says in words what an origin failure's detail means, for the
// body of a 502 or 504.
func (d cacheDetail) describe() string {
	switch d {
	case detailOriginTimeout:
		return "did not answer in time"
	case detailOriginRefused:
		return "refused the connection"
	case detailOriginCoding:
		return "sent a transfer coding this proxy does not know"
	case detailOriginInvalid:
		return "sent a response this proxy refuses (malformed head or ambiguous framing)"
	default:
		return "could not be reached or sent an invalid response"
	}
}

// cacheStatus describes how one response was produced.
type cacheStatus struct {
	hit       bool
	fwd       fwdReason
	fwdStatus int
	ttl       time.Duration
	hasTTL    bool
	stored    bool
	collapsed bool
	detail    cacheDetail
}

// String renders the member, e.g. "cacheproxy; hit; ttl=42".
func (c cacheStatus) String() string {
	var buf [128]byte
	return string(c.appendTo(buf[:0]))
}

// appendTo appends the member to b.
func (c cacheStatus) appendTo(b []byte) []byte {
	b = append(b, cacheStatusName...)
	if c.hit {
		b = append(b, "; hit"...)
	}
	if c.fwd != "" {
		b = append(b, "; fwd="...)
		b = append(b, c.fwd...)
	}
	if c.fwdStatus != 0 {
		b = append(b, "; fwd-status="...)
		b = strconv.AppendInt(b, int64(c.fwdStatus), 10)
	}
	if c.hasTTL {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, ttlSeconds(c.ttl), 10)
	}
	if c.stored {
		b = append(b, "; stored"...)
	}
	if c.collapsed {
		b = append(b, "; collapsed"...)
	}
	if c.detail != "" {
		b = append(b, "; detail="...)
		b = append(b, c.detail...)
	}
	return b
}

// after appends the member to the origin's own Cache-Status list, if any.
func (c cacheStatus) after(upstream string) string {
	if upstream == "" {
		return c.String()
	}
	return upstream + ", " + c.String()
}

// ttlSeconds rounds toward negative infinity, so a copy one nanosecond
// past its freshness shows ttl=-1, not ttl=0.
func ttlSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d < 0 && d%time.Second != 0 {
		s--
	}
	return s
}
