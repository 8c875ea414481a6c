package cacheproxy

import (
	"net/http"
	"slices"
	"strings"
)

// Vary (RFC 9111 §4.1). A stored response names, in its Vary header, the
// request fields that selected it. An object keeps those field names and the
// normalised values the request that fetched it had; a later request matches
// the object when its values for the same fields are equal. Values are
// normalised as §4.1 allows: field lines combined with commas and
// whitespace around the commas removed; a missing field matches only a
// missing field. "Vary: *" never matches, so such responses are not stored.

// maxVariants bounds the variants kept per URL; storing one more replaces
// the oldest, so a header with endless values cannot grow one key forever.
const maxVariants = 16

// varyStar reports whether any Vary field line lists "*".
func varyStar(h http.Header) bool {
	for _, line := range h["Vary"] {
		for f := range strings.SplitSeq(line, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}

// varyFields returns the canonical, sorted, de-duplicated field names listed
// in the Vary header, or nil.
func varyFields(h http.Header) []string {
	var fields []string
	for _, line := range h["Vary"] {
		for f := range strings.SplitSeq(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				fields = append(fields, http.CanonicalHeaderKey(f))
			}
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.Sort(fields)
	return slices.Clip(slices.Compact(fields))
}

// variantValues returns the normalised values of fields in req, joined by
// NUL, which never occurs in a header value. The result is "" when fields is
// empty, so objects without Vary cost nothing here.
func variantValues(fields []string, req http.Header) string {
	if len(fields) == 0 {
		return ""
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(0)
		}
		lines, ok := req[f]
		if !ok {
			b.WriteByte(1) // absent differs from empty
			continue
		}
		writeNormalizedValue(&b, lines)
	}
	return b.String()
}

// writeNormalizedValue writes the field lines combined with "," and without
// optional whitespace around the list separators.
func writeNormalizedValue(b *strings.Builder, lines []string) {
	first := true
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ",") {
			part = strings.Trim(part, " \t")
			if part == "" {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(part)
		}
	}
}
