package cacheproxy

import "testing"

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"256Mi", 256 << 20, true},
		{"1Gi", 1 << 30, true},
		{"500M", 500_000_000, true},
		{"64Ki", 64 << 10, true},
		{"2k", 2000, true},
		{"1.5Gi", 3 << 29, true},
		{" 1Ti ", 1 << 40, true},
		{"0", 0, true},
		{"", 0, false},
		{"Mi", 0, false},
		{"-1", 0, false},
		{"1e6", 0, false},
		{"10m", 0, false}, // milli-bytes make no sense
		{"1 Gi", 0, false},
		{"abc", 0, false},
		{"9223372036854775807Ki", 0, false},
	} {
		got, err := ParseQuantity(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseQuantity(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, n := range []int64{1 << 20, 256 << 20, 1 << 30, 1000, 1536} {
		if back, _ := ParseQuantity(FormatQuantity(n)); back != n {
			t.Errorf("FormatQuantity(%d) = %q does not parse back", n, FormatQuantity(n))
		}
	}
}
