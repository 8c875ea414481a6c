package cacheproxy

import (
	"net/http"
	"regexp"
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
//	X-Cache-Tags: news-42,user-7             (comma separated, FOSHttpCache, WordPress, Neos)
//	X-Cache-Tags: ;pages;tt_content{,1,2,};  (TYPO3 nxvarnish: ";" separated, table{,uid,...} for table_uid)

// maxTagsPerObject bounds the tags indexed for one object; extra tags are
// ignored, so a runaway origin header cannot bloat the index.
const maxTagsPerObject = 128

// headerXCacheTags is the tag header whose nxvarnish form needs reading
// apart.
const headerXCacheTags = "X-Cache-Tags"

// tagHeaders are the canonical names of the tag headers.
var tagHeaders = [...]string{"Surrogate-Key", "Cache-Tag", "Xkey", "X-Magento-Tags", "Cache-Tags", headerXCacheTags}

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
			if name == headerXCacheTags {
				line = expandRecordTags(line)
			}
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
// Surrogate-Key splits at blanks only, X-Cache-Tags at commas and
// semicolons too (nxvarnish), the others at commas too.
func tagSeparator(i int) func(rune) bool {
	switch tagHeaders[i] {
	case "Surrogate-Key":
		return func(r rune) bool { return r == ' ' || r == '\t' }
	case headerXCacheTags:
		return func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }
	}
	return func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }
}

// recordTags is TYPO3 nxvarnish's compressed form of the tags of several
// records of one table: tt_content{,1,2,} stands for tt_content_1 and
// tt_content_2 (netlogix/nxvarnish Classes/Middleware/ExposeCacheTags.php).
var recordTags = regexp.MustCompile(`([A-Za-z0-9_]+)\{,([0-9,]*),\}`)

// expandRecordTags writes each compressed group of line out as its tags.
func expandRecordTags(line string) string {
	if !strings.Contains(line, "{,") {
		return line
	}
	return recordTags.ReplaceAllStringFunc(line, func(group string) string {
		m := recordTags.FindStringSubmatch(group)
		var b strings.Builder
		for _, uid := range strings.Split(m[2], ",") {
			if uid != "" {
				b.WriteString(";" + m[1] + "_" + uid)
			}
		}
		return b.String() + ";"
	})
}
