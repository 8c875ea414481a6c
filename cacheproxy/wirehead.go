package cacheproxy

import (
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// A stored object's response head, rendered once in the bytes net/http
// writes for it: the status line and the stored fields, one line per
// value, names sorted, values with CR and LF turned into spaces and
// trimmed (net/http's Header.writeSubset). The fast path (hitpath.go)
// writes it followed by the per-response Age and Cache-Status fields, so a
// hit builds no header map and formats nothing but two numbers.

// wireHead is an object's rendered head.
type wireHead struct {
	b []byte
	// fast is false when the fast path must leave the object to the full
	// handler: a status other than 200, no Content-Type (net/http would
	// sniff one from the body), or a field net/http would drop.
	fast bool
}

// wire returns o's rendered head, rendering it on first use. Concurrent
// first uses may render it twice; either result is the same.
func (o *object) wire() *wireHead {
	if w := o.wireHead.Load(); w != nil {
		return w
	}
	w := renderWireHead(o)
	o.wireHead.Store(w)
	return w
}

// renderWireHead renders o's head; see wireHead.
func renderWireHead(o *object) *wireHead {
	if o.status != http.StatusOK {
		return &wireHead{} // not rendered: the fast path leaves it alone
	}
	n := len("HTTP/1.1 200 OK\r\n")
	hasType := false
	for _, f := range o.header {
		hasType = hasType || f.name == "Content-Type"
		if !httpguts.ValidHeaderFieldName(f.name) {
			return &wireHead{}
		}
		for _, v := range f.values {
			n += len(f.name) + len(v) + 4
		}
	}
	if !hasType {
		return &wireHead{}
	}
	w := &wireHead{fast: true}
	b := make([]byte, 0, n)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(o.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(o.status)...)
	b = append(b, "\r\n"...)
	for _, f := range o.header { // sorted by name (headerList)
		for _, v := range f.values {
			b = append(b, f.name...)
			b = append(b, ": "...)
			b = append(b, wireValue(v)...)
			b = append(b, "\r\n"...)
		}
	}
	w.b = b
	return w
}

// wireValue is v as net/http writes a field value.
func wireValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return strings.Trim(v, " \t")
}
