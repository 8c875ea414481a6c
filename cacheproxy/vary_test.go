package cacheproxy

import (
	"net/http"
	"slices"
	"testing"
)

func TestVaryFields(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want []string
	}{
		{hdr(), nil},
		{hdr("Vary", "accept-encoding"), []string{"Accept-Encoding"}},
		{hdr("Vary", "Accept-Language, accept-encoding", "Vary", "Accept-Encoding"), []string{"Accept-Encoding", "Accept-Language"}},
		{hdr("Vary", " , "), nil},
	} {
		if got := varyFields(tc.h); !slices.Equal(got, tc.want) {
			t.Errorf("varyFields(%v) = %q, want %q", tc.h, got, tc.want)
		}
	}
	if !varyStar(hdr("Vary", "Accept, *")) || varyStar(hdr("Vary", "Accept")) {
		t.Error("varyStar")
	}
}

func TestVariantValues(t *testing.T) {
	fields := []string{"Accept-Encoding", "Accept-Language"}
	same := [][]http.Header{
		{hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "gzip,br"), hdr("Accept-Encoding", "gzip", "Accept-Encoding", " br ")},
		{hdr(), hdr("X-Other", "1")},
	}
	for _, group := range same {
		for _, h := range group[1:] {
			if a, b := variantValues(fields, group[0]), variantValues(fields, h); a != b {
				t.Errorf("%v and %v should select the same variant: %q vs %q", group[0], h, a, b)
			}
		}
	}
	different := []http.Header{hdr(), hdr("Accept-Encoding", ""), hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br, gzip"), hdr("Accept-Language", "gzip")}
	seen := map[string]int{}
	for i, h := range different {
		v := variantValues(fields, h)
		if j, dup := seen[v]; dup {
			t.Errorf("%v and %v select the same variant %q", different[j], h, v)
		}
		seen[v] = i
	}
	if variantValues(nil, hdr("Accept", "x")) != "" {
		t.Error("no Vary must give the empty variant")
	}
}
