package gateway

import (
	"slices"
	"strings"
	"testing"
)

// The values below are what the clients send, built as their source builds
// them (shared/research/invalidation-wire-formats.md).

func TestDecodeMagento(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tags []string
		all  bool
		err  string
	}{
		// Magento\CacheInvalidate\Observer\InvalidateVarnishObserver: one
		// ((^|,)TAG(,|$)) per tag, joined by |.
		{in: `((^|,)cat_p_1(,|$))|((^|,)cat_c_2(,|$))`, tags: []string{"cat_p_1", "cat_c_2"}},
		{in: `((^|,)cms_b(,|$))`, tags: []string{"cms_b"}},
		// preg_quote'd tags: news\-123 is news-123.
		{in: `((^|,)news\-123(,|$))|((^|,)cat\.p(,|$))`, tags: []string{"news-123", "cat.p"}},
		// FlushAllCacheObserver.
		{in: `.*`, all: true},
		{in: `((^|,)cat.*(,|$))`, err: "unescaped"},
		{in: `cat_p_1`, err: "not Magento's"},
		{in: `((^|,)\d+(,|$))`, err: "escape"},
		{in: `((^|,)(,|$))`, err: "empty tag"},
	} {
		tags, all, err := decodeMagento(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("decodeMagento(%q) = %v, %v, %v; want an error with %q", tc.in, tags, all, err, tc.err)
			}
			continue
		}
		if err != nil || all != tc.all || !slices.Equal(tags, tc.tags) {
			t.Errorf("decodeMagento(%q) = %q, %v, %v; want %q, %v", tc.in, tags, all, err, tc.tags, tc.all)
		}
	}
}

func TestDecodeFOS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tags []string
		err  bool
	}{
		// FOSHttpCache Varnish::invalidateTags.
		{in: `(^|,)(tag1|tag2)(,|$)`, tags: []string{"tag1", "tag2"}},
		{in: `(^|,)(news\-123|user\:7)(,|$)`, tags: []string{"news-123", "user:7"}},
		// TYPO3 nxvarnish: one plain tag; Symfony HttpCache: a,b.
		{in: `pageId_42`, tags: []string{"pageId_42"}},
		{in: `a,b`, tags: []string{"a", "b"}},
		{in: `(^|,)(a.*)(,|$)`, err: true},
		{in: `a|b`, err: true},
	} {
		tags, err := decodeFOS(tc.in)
		if (err != nil) != tc.err || !tc.err && !slices.Equal(tags, tc.tags) {
			t.Errorf("decodeFOS(%q) = %q, %v; want %q (error %v)", tc.in, tags, err, tc.tags, tc.err)
		}
	}
}

func TestDecodeAPIPlatform(t *testing.T) {
	// api-platform/core VarnishPurger: (iri1|iri2)($|\,), IRIs preg_quote'd.
	tags, err := decodeAPIPlatform(`(/books/1|/books)($|\,)`)
	if err != nil || !slices.Equal(tags, []string{"/books/1", "/books"}) {
		t.Fatalf("got %q, %v", tags, err)
	}
	tags, err = decodeAPIPlatform(`(/books/1|/authors/some\-one)($|\,)`)
	if err != nil || !slices.Equal(tags, []string{"/books/1", "/authors/some-one"}) {
		t.Fatalf("got %q, %v", tags, err)
	}
	if _, err := decodeAPIPlatform(`/books/.*`); err == nil {
		t.Fatal("a free regex was accepted")
	}
}

func TestSplitLists(t *testing.T) {
	// Drupal's [invalidations:separated_pipe]: tags with . and : unescaped.
	if got := splitPipes("node:1|node_list|config:system.menu.main"); !slices.Equal(got, []string{"node:1", "node_list", "config:system.menu.main"}) {
		t.Fatalf("splitPipes = %q", got)
	}
	// xkey (spaces), Souin's Surrogate-Key (", ").
	if got := splitList("a b  c"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("splitList = %q", got)
	}
	if got := splitList("a, b"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("splitList = %q", got)
	}
}

func TestDecodePathPattern(t *testing.T) {
	for _, tc := range []struct{ in, prefix string }{
		{".*", "/"}, {"/.*", "/"}, {"^/.*", "/"},
		{"^/news/", "/news/"}, {"^/news/.*", "/news/"}, {`^/a\-b/`, "/a-b/"},
		{"/category/.*", "/category/"},
		{"/news/my-article.html", "/news/my-article.html"}, {"/", "/"}, {`^/a\.b/`, "/a.b/"},
		{".*css$", ""}, {"^/news/[0-9]+", ""}, {`^/news/\d`, ""}, {"news", ""}, {"/news/(a|b)", ""}, {"/a?b", ""},
	} {
		got, err := decodePathPattern(tc.in)
		if tc.prefix == "" {
			if err == nil {
				t.Errorf("decodePathPattern(%q) = %q, want a refusal", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.prefix {
			t.Errorf("decodePathPattern(%q) = %q, %v; want %q", tc.in, got, err, tc.prefix)
		}
	}
}

func TestDecodeHosts(t *testing.T) {
	for _, tc := range []struct {
		in    string
		hosts []string
		all   bool
	}{
		{in: ".*", all: true},
		{in: "www.example.com", hosts: []string{"www.example.com"}},
		{in: `^www\.example\.com$`, hosts: []string{"www.example.com"}},
		{in: `^(www\.example\.com|example\.com)$`, hosts: []string{"www.example.com", "example.com"}},
		{in: `WWW.Example.com:8080`, hosts: []string{"www.example.com"}},
	} {
		hosts, all, err := decodeHosts(tc.in)
		if err != nil || all != tc.all || !slices.Equal(hosts, tc.hosts) {
			t.Errorf("decodeHosts(%q) = %q, %v, %v; want %q, %v", tc.in, hosts, all, err, tc.hosts, tc.all)
		}
	}
	if _, _, err := decodeHosts(`.*\.example\.com`); err == nil {
		t.Error("a host pattern was accepted")
	}
}

func TestDecodeXCacheTags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tags []string
		all  bool
	}{
		{in: ";pageId_42;", tags: []string{"pageId_42"}},
		{in: `;news\-1;`, tags: []string{"news-1"}},
		{in: ";tt_content{[0-9,]*,42,[0-9,]*};", tags: []string{"tt_content_42"}},
		{in: ".*", all: true},
		{in: `(^|,)(news\-1|user\-7)(,|$)`, tags: []string{"news-1", "user-7"}},
		{in: "a,b", tags: []string{"a", "b"}},
		{in: ";tt_content{[0-9,]*,x,[0-9,]*};"}, {in: ";t-1{[0-9,]*,1,[0-9,]*};"}, {in: ";page.*;"}, {in: ";;"},
	} {
		tags, all, err := decodeXCacheTags(tc.in)
		if tc.tags == nil && !tc.all {
			if err == nil {
				t.Errorf("decodeXCacheTags(%q) = %q, %v; want a refusal", tc.in, tags, all)
			}
			continue
		}
		if err != nil || all != tc.all || !slices.Equal(tags, tc.tags) {
			t.Errorf("decodeXCacheTags(%q) = %q, %v, %v; want %q, %v", tc.in, tags, all, err, tc.tags, tc.all)
		}
	}
}
