package cacheproxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// Forwarding loops (red team C14). A proxy whose origin leads back to
// itself (a careless --origin, a Service that selects the proxy's own
// pods) would forward each request to itself until it ran out of file
// descriptors, and a miss would wait on its own coalesced fetch until
// OriginTimeout. Each Proxy names itself in the Via member it adds to the
// requests it forwards (RFC 9110 §7.6.3) with a pseudonym of its own,
// "cacheproxy-" and 8 random bytes in hex, and answers a request whose Via
// already holds that pseudonym with 508 Loop Detected: the request went
// round once, and it stops there. Other proxies' members, other
// cacheproxies' included (tiered caches), pass.

// newViaPseudonym returns a pseudonym for one Proxy.
func newViaPseudonym() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "cacheproxy-" + hex.EncodeToString(b[:])
}

// looped reports whether r's Via holds this proxy's pseudonym: the request
// came round through the origin.
func (p *Proxy) looped(r *http.Request) bool {
	for _, line := range r.Header["Via"] {
		for member := range strings.SplitSeq(line, ",") {
			// received-protocol SP received-by [ SP comment ]
			fields := strings.Fields(member)
			if len(fields) >= 2 && fields[1] == p.via {
				return true
			}
		}
	}
	return false
}
