package cacheproxy

import (
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Tags (surrogate keys). Origins label responses with tags in one of the
// headers below; a purge may name tags instead of URLs. The headers are
// indexed when the object is stored and never reach clients, stored or not.
// Besides the CDNs' headers, those of the content systems whose purge
// requests the purge gateway turns into tag purges are indexed as they
// send them (shared/research/invalidation-wire-formats.md §1.3), so that
// a site moved behind a CacheProxy needs no change to its origin:
//
//	Surrogate-Key: product-42 category-7     (space separated, Fastly)
//	Cache-Tag: product-42,category-7         (comma separated, Cloudflare)
//	xkey: product-42 category-7              (space separated, Varnish; commas accepted too)
//	X-Magento-Tags: cat_p_42,cat_c_7         (comma separated, Magento 2)
//	Cache-Tags: node:42 node_list            (space separated, Drupal; comma separated, API Platform)
//	X-Cache-Tags: news-42,user-7             (comma separated, FOSHttpCache, TYPO3, Neos)

// maxTagsPerObject bounds the tags indexed for one object; extra tags are
// ignored, so a runaway origin header cannot bloat the index.
const maxTagsPerObject = 128

// tagHeaders are the canonical names of the tag headers.
var tagHeaders = [...]string{"Surrogate-Key", "Cache-Tag", "Xkey", "X-Magento-Tags", "Cache-Tags", "X-Cache-Tags"}

// takeTags removes the tag headers from h and returns their de-duplicated
// tags. Tags longer than admin.MaxTagLength are dropped: no purge could name
// them.
func takeTags(h http.Header) []string {
	var tags []string
	for i, name := range tagHeaders {
		lines, ok := h[name]
		if !ok {
			continue
		}
		delete(h, name)
		for _, line := range lines {
			for _, t := range strings.FieldsFunc(line, tagSeparator(i)) {
				if utf8.RuneCountInString(t) <= admin.MaxTagLength && len(tags) < maxTagsPerObject {
					tags = append(tags, t)
				}
			}
		}
	}
	if len(tags) == 0 {
		return nil
	}
	slices.Sort(tags)
	return slices.Clip(slices.Compact(tags))
}

// tagSeparator returns the separator predicate of tagHeaders[i]:
// Surrogate-Key splits at blanks only, the others at commas too.
func tagSeparator(i int) func(rune) bool {
	if tagHeaders[i] == "Surrogate-Key" {
		return func(r rune) bool { return r == ' ' || r == '\t' }
	}
	return func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }
}
