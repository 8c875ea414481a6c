package cachekey

import "testing"

func TestHost(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"www.example.com", "www.example.com"},
		{"WWW.Example.COM", "www.example.com"},
		{"www.example.com:80", "www.example.com"},
		{"www.example.com:443", "www.example.com"},
		{"www.example.com:8080", "www.example.com:8080"},
		{"www.example.com.", "www.example.com"},
		{"www.example.com.:443", "www.example.com"},
		{"[::1]:80", "[::1]"},
		{"[::1]", "[::1]"},
		{"[::1]:8443", "[::1]:8443"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"www.example.com:080", "www.example.com"},
		{"www.example.com:0443", "www.example.com"},
		{"www.example.com:08080", "www.example.com:8080"},
		{"www.example.com:0", "www.example.com:0"},
		{"", ""},
	} {
		if got := Host(tc.in); got != tc.want {
			t.Errorf("Host(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
