package admin

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Validate reports the first thing wrong with r, in words a person can act on.
// The proxy refuses an invalid request with 400 and this message.
func (r *InvalidationRequest) Validate() error {
	switch {
	case r.ID == "":
		return errors.New("id: required")
	case len(r.ID) > MaxIDLength:
		return fmt.Errorf("id: %d bytes, at most %d allowed", len(r.ID), MaxIDLength)
	}
	switch r.Mode {
	case ModeSimple, ModeSoft, ModeBan:
	case "":
		return errors.New("mode: required, one of simple, soft, ban")
	default:
		return fmt.Errorf("mode: unknown mode %q, want one of simple, soft, ban", r.Mode)
	}
	switch {
	case len(r.URLs) == 0 && len(r.Tags) == 0:
		return errors.New("urls, tags: at least one URL or tag is required")
	case len(r.URLs) > MaxURLs:
		return fmt.Errorf("urls: %d given, at most %d allowed", len(r.URLs), MaxURLs)
	case len(r.Tags) > MaxTags:
		return fmt.Errorf("tags: %d given, at most %d allowed", len(r.Tags), MaxTags)
	}
	if r.Mode == ModeBan {
		if len(r.Tags) > 0 {
			return errors.New("tags: not allowed with mode ban; a ban matches URL patterns only")
		}
		if r.Refetch {
			return errors.New("refetch: not allowed with mode ban; a pattern names no URL to fetch")
		}
	}
	for i, u := range r.URLs {
		var err error
		if r.Mode == ModeBan {
			err = ValidateBanPattern(u)
		} else {
			err = ValidateURL(u)
		}
		if err != nil {
			return fmt.Errorf("urls[%d]: %w", i, err)
		}
	}
	for i, t := range r.Tags {
		if err := ValidateTag(t); err != nil {
			return fmt.Errorf("tags[%d]: %w", i, err)
		}
	}
	return nil
}

// ValidateURL accepts an absolute http or https URL with a host, no
// fragment and no user info, of at most MaxURLLength bytes.
func ValidateURL(raw string) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%d bytes, at most %d allowed", len(raw), MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an absolute http:// or https:// URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return fmt.Errorf("%q carries user info, which caches never see", raw)
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fmt.Errorf("%q has a #fragment, which browsers never send; remove it", raw)
	}
	return nil
}

// ValidateBanPattern accepts "http://" or "https://" followed by at least a
// host, where "*" may stand for any run of characters. The pattern is a
// prefix: "https://example.com/img/" bans everything under /img/.
func ValidateBanPattern(pattern string) error {
	if len(pattern) > MaxURLLength {
		return fmt.Errorf("%d bytes, at most %d allowed", len(pattern), MaxURLLength)
	}
	lower := strings.ToLower(pattern)
	var rest string
	switch {
	case strings.HasPrefix(lower, "https://"):
		rest = pattern[len("https://"):]
	case strings.HasPrefix(lower, "http://"):
		rest = pattern[len("http://"):]
	default:
		return fmt.Errorf("%q must start with http:// or https://", pattern)
	}
	host := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		host = rest[:i]
	}
	switch {
	case host == "" || strings.HasPrefix(host, ":"):
		return fmt.Errorf("%q has no host", pattern)
	case strings.Contains(host, "@"):
		return fmt.Errorf("%q carries user info, which caches never see", pattern)
	}
	if strings.Contains(rest, "#") {
		return fmt.Errorf("%q has a #fragment, which browsers never send; remove it", pattern)
	}
	for _, r := range pattern {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains whitespace or a control character", pattern)
		}
	}
	return nil
}

// IsHostRootBan reports whether a valid ban pattern matches a whole host
// ("https://www.example.com" or "https://www.example.com/"), which empties
// the host from the cache and sends all its traffic to the origin.
func IsHostRootBan(pattern string) bool {
	_, rest, ok := strings.Cut(pattern, "://")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	if strings.HasPrefix(rest, "?") {
		return false // a query on the root page only
	}
	return strings.Trim(strings.TrimPrefix(rest, "/"), "*") == ""
}

// ValidateTag accepts a non-empty tag of at most MaxTagLength bytes with no
// whitespace or comma: origins send tags space- or comma-separated, so such a
// tag could never be stored.
func ValidateTag(tag string) error {
	switch {
	case tag == "":
		return errors.New("empty tag")
	case len(tag) > MaxTagLength:
		return fmt.Errorf("%d bytes, at most %d allowed", len(tag), MaxTagLength)
	case strings.ContainsFunc(tag, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || unicode.IsControl(r) }):
		return fmt.Errorf("%q contains whitespace, a comma or a control character", tag)
	}
	return nil
}
