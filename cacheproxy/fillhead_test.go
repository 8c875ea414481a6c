package cacheproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The head appendHead writes for a fill is the one appendRequestHead
// writes for the request fillRequest builds: the same target, Host and
// fields (a map has no order), the same refusals, the same conditional
// request, for requests of every shape a client may send.
func TestFillHeadMatchesFillRequest(t *testing.T) {
	stale := &object{parts: &objectParts{etag: `"v1"`, lastModified: "Thu, 01 Jan 2026 00:00:00 GMT"}}
	for _, tc := range []struct {
		name        string
		target      string
		header      map[string][]string
		mutate      func(*http.Request)
		stale       *object
		rewriteHost bool
	}{
		{name: "plain", target: "/a/b?x=1", header: map[string][]string{"Accept": {"text/html"}, "User-Agent": {"curl/8"}}},
		{name: "no user agent", target: "/", mutate: func(r *http.Request) { r.Method = http.MethodHead }},
		{name: "empty user agent", target: "/ua", header: map[string][]string{"User-Agent": {""}}},
		{name: "hop-by-hop and overrides", target: "/fwd", header: map[string][]string{
			"Connection": {"X-Hop, keep-alive", "x-other"}, "X-Hop": {"1"}, "X-Other": {"2"}, "Keep-Alive": {"timeout=5"},
			"Te": {"trailers, deflate"}, "X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=6.6.6.6"},
			"X-Forwarded-Host": {"evil"}, "X-Original-Url": {"/admin"}, "X-Http-Method-Override": {"DELETE"},
			"If-None-Match": {`"x"`}, "If-Modified-Since": {"yesterday"}, "Range": {"bytes=0-1"},
			"Via": {"1.0 other", "1.1 third"}, "Cookie": {"a=1", "b=2"}, "Proxy-Authorization": {"x"},
			"Upgrade": {"h2c"}, "Trailer": {"X"}, "Transfer-Encoding": {"chunked"}, "Content-Length": {"0"},
		}},
		{name: "connection names added fields", target: "/conn", stale: stale, header: map[string][]string{
			"Connection": {"User-Agent, Via, If-None-Match, Content-Length"}, "User-Agent": {"ua"}, "Via": {"1.1 x"},
			"Content-Length": {"0"},
		}},
		{name: "te without trailers", target: "/te", header: map[string][]string{"Te": {"deflate"}}},
		{name: "stale validators", target: "/stale", stale: stale},
		{name: "stale etag only", target: "/etag", stale: &object{parts: &objectParts{etag: `W/"w"`}}},
		{name: "escapes", target: "/a%20b/%7Ec/%2F/caf%C3%A9?y=%2F&z=a+b"},
		{name: "odd path bytes", target: "/a;b,c/$x!'()*@:[]"},
		{name: "empty query", target: "/q?"},
		{name: "absolute form", target: "http://www.example.com/abs?q=1"},
		{name: "no port in remote address", target: "/ip", mutate: func(r *http.Request) { r.RemoteAddr = "pipe" }},
		{name: "tls", target: "/tls", mutate: func(r *http.Request) { r.TLS = &tls.ConnectionState{} }},
		{name: "http/1.0", target: "/old", mutate: func(r *http.Request) { r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0 }},
		{name: "rewrite host", target: "/rh", rewriteHost: true},
		{name: "no host", target: "/nohost", mutate: func(r *http.Request) { r.Host = "" }},
		{name: "host with colon", target: "/colon", mutate: func(r *http.Request) { r.Host = "www.example.com:" }},
		{name: "invalid host", target: "/badhost", mutate: func(r *http.Request) { r.Host = "a b" }},
		{name: "invalid value", target: "/badvalue", header: map[string][]string{"X-Bad": {"a\x00b"}}},
		{name: "invalid name", target: "/badname", header: map[string][]string{"X Bad": {"1"}}},
		{name: "invalid excluded value", target: "/badua", header: map[string][]string{"User-Agent": {"a\x01"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin, _ := url.Parse("http://origin.internal:8080")
			p, err := New(Config{Origin: origin, Logger: slog.New(slog.DiscardHandler), AdminToken: testToken, RewriteHost: tc.rewriteHost})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			if p.fillClient == nil {
				t.Fatal("an http:// origin without a path should get direct fills")
			}
			in := httptest.NewRequest(http.MethodGet, tc.target, nil)
			in.Host = "www.example.com"
			for k, v := range tc.header {
				in.Header[k] = v
			}
			if tc.mutate != nil {
				tc.mutate(in)
			}
			viaRequest := &fill{p: p, stale: tc.stale}
			want, wantErr := appendRequestHead(nil, p.fillRequest(context.Background(), viaRequest, in))
			direct := &fill{p: p, stale: tc.stale, in: in}
			var ok bool
			if direct.targetPath, direct.targetQuery, ok = fillTarget(in); !ok {
				t.Fatal("fillTarget refused a request fillRequest forwards")
			}
			got, gotErr := direct.appendHead(nil)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("error %v, through fillRequest %v", gotErr, wantErr)
			}
			if direct.conditional != viaRequest.conditional {
				t.Errorf("conditional %v, through fillRequest %v", direct.conditional, viaRequest.conditional)
			}
			if wantErr != nil {
				return
			}
			g, w := parseHead(t, got), parseHead(t, want)
			if g.RequestURI != w.RequestURI || g.Host != w.Host || !maps.EqualFunc(g.Header, w.Header, slices.Equal) {
				t.Errorf("wrote\n%s\nthrough fillRequest\n%s", got, want)
			}
		})
	}
}

func parseHead(t *testing.T, head []byte) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(head))))
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	return r
}

// An origin URL with a path or a query of its own keeps fillRequest's
// way, which joins them.
func TestDirectFills(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://o": true, "http://o:81/": true, "http://o/base": false, "http://o/?k=v": false, "https://o": false,
		"http://o/a%2Fb": false,
	} {
		u, _ := url.Parse(raw)
		if got := directFills(u); got != want {
			t.Errorf("directFills(%s) = %v, want %v", raw, got, want)
		}
	}
}
