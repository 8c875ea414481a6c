package cacheproxy

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// A stored object's response head, rendered when the object is sealed
// (objectdata.go) in the bytes net/http writes for it: the status line and the stored fields, one line per
// value, names sorted, values with CR and LF turned into spaces and
// trimmed (net/http's Header.writeSubset). The fast path (hitpath.go)
// writes it followed by the per-response Age and Cache-Status fields, so a
// hit builds no header map and formats nothing but two numbers. The head
// is also the only stored form of the header: the full handler decodes it
// (object.fields).

// headLen is the length appendHead renders.
func headLen(status int, fields []headerField) int {
	n := len("HTTP/1.1 000 \r\n") + len(http.StatusText(status))
	for _, f := range fields {
		if !httpguts.ValidHeaderFieldName(f.name) {
			continue
		}
		for _, v := range f.values {
			n += len(f.name) + len(wireValue(v)) + 4
		}
	}
	return n
}

// appendHead renders the head of a response with status and fields (sorted
// by name, as headerList leaves them) to dst. fast is false when the fast
// path must leave the object to the full handler: a status other than 200,
// no Content-Type (net/http would sniff one from the body), or a field
// net/http would drop (the head leaves it out; net/http drops it when it
// serves the decoded fields too).
func appendHead(dst []byte, status int, fields []headerField) (b []byte, fast bool) {
	b = append(dst, "HTTP/1.1 "...)
	b = append(b, byte('0'+status/100%10), byte('0'+status/10%10), byte('0'+status%10), ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	fast = status == http.StatusOK
	hasType := false
	for _, f := range fields {
		if !httpguts.ValidHeaderFieldName(f.name) {
			fast = false
			continue
		}
		hasType = hasType || f.name == "Content-Type" && len(f.values) > 0
		for _, v := range f.values {
			b = append(b, f.name...)
			b = append(b, ": "...)
			b = append(b, wireValue(v)...)
			b = append(b, "\r\n"...)
		}
	}
	return b, fast && hasType
}

// wireValue is v as net/http writes a field value.
func wireValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return strings.Trim(v, " \t")
}
