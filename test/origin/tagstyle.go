package origin

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// tagStyle is how a response carries its tags: the header a kind of
// origin writes them in, how it separates them and what it writes around
// the list (shared/research/invalidation-wire-formats.md §1.3).
type tagStyle struct {
	header, separator, around string
}

// tagStyleParam is the query parameter that picks a tag style other than
// Surrogate-Key, so that a test can check a cache and a purge gateway
// against the headers content systems write, URL by URL.
const tagStyleParam = "tag-style"

// tagStyles are the styles ?tag-style= names.
var tagStyles = map[string]tagStyle{
	"fastly":       {"Surrogate-Key", " ", ""},
	"magento":      {"X-Magento-Tags", ",", ""},
	"drupal":       {"Cache-Tags", " ", ""},
	"api-platform": {"Cache-Tags", ",", ""},
	"fos":          {"X-Cache-Tags", ",", ""},
	"typo3":        {"X-Cache-Tags", ";", ";"},
	"xkey":         {"xkey", " ", ""},
}

// defaultTagStyle is what a URL without ?tag-style= gets.
var defaultTagStyle = tagStyles["fastly"]

// tagStyleOf is the tag style the request's query asks for; false when it
// names none of tagStyles.
func tagStyleOf(r *http.Request) (tagStyle, bool) {
	name := r.URL.Query().Get(tagStyleParam)
	if name == "" {
		return defaultTagStyle, true
	}
	s, ok := tagStyles[name]
	return s, ok
}

// set writes tags into h in the style's header.
func (s tagStyle) set(h http.Header, tags []string) {
	h.Set(s.header, s.around+strings.Join(tags, s.separator)+s.around)
}

// badTagStyle answers a ?tag-style= the origin does not know, naming those
// it does.
func badTagStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	names := slices.Sorted(maps.Keys(tagStyles))
	http.Error(w, fmt.Sprintf("unknown %s %q: want one of %s",
		tagStyleParam, r.URL.Query().Get(tagStyleParam), strings.Join(names, ", ")), http.StatusBadRequest)
}
