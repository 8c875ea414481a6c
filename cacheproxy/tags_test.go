package cacheproxy

import (
	"net/http"
	"slices"
	"testing"
)

// TestTakeTagsNxvarnish: TYPO3 nxvarnish's X-Cache-Tags, ";"-separated
// with the records of a table compressed, gives each record's tag.
func TestTakeTagsNxvarnish(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{";pageId_3;pages;tt_content{,7,42,};", []string{"pageId_3", "pages", "tt_content_42", "tt_content_7"}},
		{";tt_content{,7,};tx_news_domain_model_news{,1,2,};", []string{"tt_content_7", "tx_news_domain_model_news_1", "tx_news_domain_model_news_2"}},
		{"news-1,user-7", []string{"news-1", "user-7"}},
		{";a{,x,};", []string{"a{", "x", "}"}}, // not a record group: split as it is
	} {
		h := http.Header{"X-Cache-Tags": {tc.in}}
		if got := takeTags(h); !slices.Equal(got, tc.want) {
			t.Errorf("takeTags(X-Cache-Tags: %s) = %q, want %q", tc.in, got, tc.want)
		}
		if len(h) != 0 {
			t.Errorf("the tag header was left: %v", h)
		}
	}
}
