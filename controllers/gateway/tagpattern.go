package gateway

import (
	"fmt"
	"strings"
)

// The regexes content systems send to Varnish are generated from plain
// lists of tags or paths: this file reads those lists back, so that
// nothing a client sends is ever run as a regular expression. A value that
// is not in one of the known shapes is refused.

// Shapes of the tag regexes, from the clients' source:
//
//	Magento            ((^|,)cat_p_1(,|$))|((^|,)cat_c_2(,|$))   and .* for everything
//	FOSHttpCache       (^|,)(tag1|tag2)(,|$)
//	API Platform       (/books/1|/books)($|\,)
const (
	magentoOpen  = "((^|,)"
	magentoClose = "(,|$))"
	fosOpen      = "(^|,)("
	fosClose     = ")(,|$)"
	apipClose    = `)($|\,)`
)

// regexSpecial are the characters that mean something unescaped in a PCRE
// pattern; PHP's preg_quote escapes them (and a few harmless others).
const regexSpecial = `.+*?[]^$(){}|\`

// decodeMagento reads X-Magento-Tags-Pattern; all is true for ".*", the
// full flush of Magento's Cache Management page.
func decodeMagento(v string) (tags []string, all bool, err error) {
	v = strings.TrimSpace(v)
	if v == ".*" {
		return nil, true, nil
	}
	for _, alt := range splitAlternation(v) {
		inner, ok := strings.CutPrefix(alt, magentoOpen)
		if ok {
			inner, ok = strings.CutSuffix(inner, magentoClose)
		}
		if !ok {
			return nil, false, fmt.Errorf("%q is not Magento's ((^|,)TAG(,|$)) form", alt)
		}
		t, err := unquote(inner)
		if err != nil {
			return nil, false, err
		}
		tags = append(tags, t)
	}
	return tags, false, nil
}

// decodeFOS reads X-Cache-Tags: FOSHttpCache's (^|,)(a|b)(,|$), or a plain
// comma-separated list (TYPO3's one tag, Symfony HttpCache's a,b).
func decodeFOS(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if inner, ok := strings.CutPrefix(v, fosOpen); ok {
		if inner, ok = strings.CutSuffix(inner, fosClose); ok {
			return unquoteAll(splitAlternation(inner))
		}
	}
	if strings.ContainsAny(v, regexSpecial) {
		return nil, fmt.Errorf("%q is neither FOSHttpCache's (^|,)(tag1|tag2)(,|$) nor a comma-separated list of tags", v)
	}
	return splitList(v), nil
}

// Shapes of TYPO3 netlogix/nxvarnish's X-Cache-Tags (VarnishBackend.php),
// one tag a request, matched against responses tagged
// ";tag;table{,uid,uid,};":
//
//	;TAG;                              a tag, preg_quoted
//	;TABLE{[0-9,]*,UID,[0-9,]*};        the tag TABLE_UID of one record
//	.*                                 everything (a flush of the cache)
const (
	nxRecordOpen  = "{[0-9,]*,"
	nxRecordClose = ",[0-9,]*}"
)

// decodeXCacheTags reads X-Cache-Tags: nxvarnish's shapes, else
// FOSHttpCache's (decodeFOS).
func decodeXCacheTags(v string) (tags []string, all bool, err error) {
	v = strings.TrimSpace(v)
	if v == ".*" {
		return nil, true, nil
	}
	inner, ok := strings.CutPrefix(v, ";")
	if ok {
		inner, ok = strings.CutSuffix(inner, ";")
	}
	if !ok {
		tags, err = decodeFOS(v)
		return tags, false, err
	}
	if table, rest, record := strings.Cut(inner, nxRecordOpen); record {
		uid, ok := strings.CutSuffix(rest, nxRecordClose)
		if !ok || !isWord(table) || uid == "" || strings.Trim(uid, "0123456789") != "" {
			return nil, false, fmt.Errorf("%q is not nxvarnish's ;table{[0-9,]*,uid,[0-9,]*}; form", v)
		}
		return []string{table + "_" + uid}, false, nil
	}
	t, err := unquote(inner)
	if err != nil {
		return nil, false, err
	}
	return []string{t}, false, nil
}

// isWord is true for a non-empty run of letters, digits and "_".
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return s != ""
}

// decodeAPIPlatform reads ApiPlatform-Ban-Regex: (a|b)($|\,).
func decodeAPIPlatform(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	inner, ok := strings.CutPrefix(v, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, apipClose)
	}
	if !ok {
		return nil, fmt.Errorf(`%q is not API Platform's (tag1|tag2)($|\,) form`, v)
	}
	return unquoteAll(splitAlternation(inner))
}

// splitPipes reads Drupal's Cache-Tags and Purge-Cache-Tags: a literal list
// separated by "|" ([invalidations:separated_pipe]); Drupal's tags hold "."
// and ":" unescaped, so this is no regex.
func splitPipes(v string) []string {
	tags := make([]string, 0, strings.Count(v, "|")+1)
	for _, t := range strings.Split(v, "|") {
		tags = append(tags, splitList(t)...)
	}
	return tags
}

// splitList reads a list separated by spaces or commas: xkey, xkey-purge,
// xkey-softpurge, Surrogate-Key (Fastly's spaces, Souin's ", ").
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// splitAlternation splits a pattern at the "|" outside parentheses and
// escapes.
func splitAlternation(v string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case '|':
			if depth == 0 {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, v[start:])
}

func unquoteAll(parts []string) ([]string, error) {
	return unquoteAllKeeping(parts, "")
}

// unquoteAllKeeping unquotes each of parts, taking the characters in keep
// literally even unescaped.
func unquoteAllKeeping(parts []string, keep string) ([]string, error) {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		s, err := unquoteKeeping(p, keep)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// unquote undoes PHP's preg_quote: "news\-123" is "news-123". A character
// that means something in a pattern, unescaped, makes s a pattern rather
// than a quoted literal, and is refused; so are escapes such as \d that
// stand for a class of characters.
func unquote(s string) (string, error) { return unquoteKeeping(s, "") }

func unquoteKeeping(s, keep string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) || isAlnum(s[i+1]) {
				return "", fmt.Errorf("%q holds a regex escape that is not a quoted character", s)
			}
			i++
			b.WriteByte(s[i])
		case strings.IndexByte(regexSpecial, c) >= 0 && strings.IndexByte(keep, c) < 0:
			return "", fmt.Errorf("%q holds the regex character %q unescaped: only lists of literal tags are accepted, never patterns", s, c)
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("an empty tag in the pattern")
	}
	return b.String(), nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// decodePathPattern reads FOSHttpCache's X-Url (and WordPress's regex
// purge path): ".*" (or "/.*", "^.*") is the whole host; a literal path,
// anchored ("^/news/") or not, optionally followed by ".*", is that
// prefix. TYPO3's mittwald/typo3-varnishcache sends the page's path as
// it is (X-Url: /news/my-article.html), which its VCL matches anywhere in
// the URL: the gateway bans the URLs that start with it, dots taken as
// dots. Anything else is a regex the gateway does not run.
func decodePathPattern(v string) (prefix string, err error) {
	v = strings.TrimSpace(v)
	switch v {
	case ".*", "^.*", "/.*", "^/.*", "^/":
		return "/", nil
	}
	lit := strings.TrimSuffix(strings.TrimPrefix(v, "^"), ".*")
	p, err := unquoteKeeping(lit, ".")
	if err != nil || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%q is a regex the gateway does not run: send .* for the whole host or a literal path such as ^/news/ for a prefix", v)
	}
	return p, nil
}

// decodeHosts reads FOSHttpCache's X-Host, a literal host or a pattern of
// hosts such as ^(www\.example\.com|example\.com)$; all is true for ".*".
// An unescaped "." is taken as a dot: TYPO3's mittwald/typo3-varnishcache
// sends the plain domain, and the host it names is one the pattern
// matches.
func decodeHosts(v string) (hosts []string, all bool, err error) {
	v = strings.TrimSpace(v)
	if v == ".*" || v == "^.*$" || v == "" {
		return nil, true, nil
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(v, "^"), "$")
	if s, ok := strings.CutPrefix(inner, "("); ok {
		if s, ok = strings.CutSuffix(s, ")"); ok {
			inner = s
		}
	}
	hs, err := unquoteAllKeeping(splitAlternation(inner), ".")
	if err != nil {
		return nil, false, fmt.Errorf("X-Host %q: %w", v, err)
	}
	for _, h := range hs {
		hosts = append(hosts, hostOf(h))
	}
	return hosts, false, nil
}
