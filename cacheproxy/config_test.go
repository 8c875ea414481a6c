package cacheproxy

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestConfigRefusesCarelessSettings: settings that would silently disable a
// protection or break service are refused with a clear error (red team C20).
func TestConfigRefusesCarelessSettings(t *testing.T) {
	origin, _ := url.Parse("http://origin:8080")
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"wildcard host", Config{Origin: origin, Hosts: []string{"*.example.com"}}, "wildcards are not supported"},
		{"spinning sweeper", Config{Origin: origin, BanSweepInterval: time.Nanosecond}, "spin a core"},
		{"no origin", Config{}, "Origin must be"},
	} {
		_, err := tc.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.err)
		}
	}
}
