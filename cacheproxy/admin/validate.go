package admin

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
	if r.Mode == ModeBan {
		if err := ValidateWildcardHosts(r.URLs); err != nil {
			return fmt.Errorf("urls: %w", err)
		}
	}
	for i, t := range r.Tags {
		if err := ValidateTag(t); err != nil {
			return fmt.Errorf("tags[%d]: %w", i, err)
		}
	}
	return nil
}

// ValidateTag accepts a non-empty tag of at most MaxTagLength characters
// with no space, comma or ASCII control: origins send tags space- or
// comma-separated in a header, so such a tag could never be stored. The
// CRD's rule on Purge.spec.tags says the same in CEL.
func ValidateTag(tag string) error {
	switch n := utf8.RuneCountInString(tag); {
	case tag == "":
		return errors.New("empty tag")
	case n > MaxTagLength:
		return fmt.Errorf("%d characters, at most %d allowed", n, MaxTagLength)
	case strings.ContainsFunc(tag, func(r rune) bool { return isControlOrSpace(r) || r == ',' }):
		return fmt.Errorf("%q contains a space, a comma or a control character", tag)
	}
	return nil
}
