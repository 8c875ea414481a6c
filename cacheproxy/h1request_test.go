package cacheproxy

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestParseH1Request(t *testing.T) {
	for _, c := range []struct {
		name, in   string
		want       h1Verdict
		target     string
		host       string
		head, shut bool
	}{
		{name: "plain GET", in: "GET /a?b=1 HTTP/1.1\r\nHost: www.example.com\r\n\r\n", want: h1Fast, target: "/a?b=1", host: "www.example.com"},
		{name: "HEAD", in: "HEAD / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", want: h1Fast, target: "/", host: "x", head: true},
		{name: "host case and spaces", in: "GET / HTTP/1.1\r\nhOsT: \t x:8080 \r\n\r\n", want: h1Fast, target: "/", host: "x:8080"},
		{name: "connection close", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", want: h1Fast, target: "/", host: "x", shut: true},
		{name: "connection keep-alive", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", want: h1Fast, target: "/", host: "x"},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n", want: h1Fast, target: "/", host: "x"},
		{name: "pipelined: first only", in: "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", want: h1Fast, target: "/1", host: "x"},

		{name: "empty", in: "", want: h1Incomplete},
		{name: "partial method", in: "HE", want: h1Incomplete},
		{name: "partial head", in: "GET / HTTP/1.1\r\nHost: x\r\n", want: h1Incomplete},
		{name: "partial CRLF", in: "GET / HTTP/1.1\r", want: h1Incomplete},

		{name: "POST", in: "POST / HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "partial POST", in: "POS", want: h1HandOff},
		{name: "lower-case method", in: "get / HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: h1HandOff},
		{name: "HTTP/1.0", in: "GET / HTTP/1.0\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "absolute form", in: "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "percent", in: "GET /a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "no host", in: "GET / HTTP/1.1\r\n\r\n", want: h1HandOff},
		{name: "empty host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", want: h1HandOff},
		{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", want: h1HandOff},
		{name: "odd host", in: "GET / HTTP/1.1\r\nHost: x_y\r\n\r\n", want: h1HandOff},
		{name: "content-length", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", want: h1HandOff},
		{name: "CL and TE", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", want: h1HandOff},
		{name: "TE and CL", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", want: h1HandOff},
		{name: "two CLs", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", want: h1HandOff},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", want: h1HandOff},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: x\n\n", want: h1HandOff},
		{name: "bare LF in a field", in: "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", want: h1HandOff},
		{name: "bare CR", in: "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", want: h1HandOff},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", want: h1HandOff},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", want: h1HandOff},
		{name: "upgrade", in: "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", want: h1HandOff},
		{name: "h2c upgrade", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", want: h1HandOff},
		{name: "range", in: "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n", want: h1HandOff},
		{name: "conditional", in: "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\n\r\n", want: h1HandOff},
		{name: "expect", in: "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", want: h1HandOff},
		{name: "leading blank line", in: "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
		{name: "space in target", in: "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", want: h1HandOff},
	} {
		t.Run(c.name, func(t *testing.T) {
			var req h1Request
			n, v := parseH1Request([]byte(c.in), &req)
			if v != c.want {
				t.Fatalf("verdict %v, want %v", v, c.want)
			}
			if v != h1Fast {
				return
			}
			if string(req.target) != c.target || string(req.host) != c.host || req.head != c.head || req.close != c.shut {
				t.Errorf("got target %q host %q head %v close %v", req.target, req.host, req.head, req.close)
			}
			if end := strings.Index(c.in, "\r\n\r\n") + 4; n != end {
				t.Errorf("consumed %d bytes, want %d", n, end)
			}
		})
	}
}

// FuzzParseH1Request checks the fast reader against net/http's: whatever
// it accepts, http.ReadRequest and the server's own checks accept too, with
// the same method, target, Host, connection handling and length, and
// without a body. Whatever it hands off, net/http answers.
func FuzzParseH1Request(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		"HEAD /a?b HTTP/1.1\r\nHost: x:80\r\nConnection: close\r\nAccept: */*\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET /a HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var req h1Request
		n, v := parseH1Request(in, &req)
		if v != h1Fast {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(in), len(in)+16)
		r, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("fast path accepted what net/http refuses (%v): %q", err, in)
		}
		if consumed := len(in) - br.Buffered(); consumed != n {
			t.Fatalf("consumed %d bytes, net/http %d: %q", n, consumed, in)
		}
		wantMethod := http.MethodGet
		if req.head {
			wantMethod = http.MethodHead
		}
		if r.Method != wantMethod || r.RequestURI != string(req.target) || r.Host != string(req.host) {
			t.Fatalf("read %s %q host %q; net/http %s %q host %q", wantMethod, req.target, req.host, r.Method, r.RequestURI, r.Host)
		}
		if r.Close != req.close {
			t.Fatalf("close %v, net/http %v: %q", req.close, r.Close, in)
		}
		if r.ContentLength != 0 || r.TransferEncoding != nil || r.Body != http.NoBody {
			t.Fatalf("net/http sees a body: %q", in)
		}
		if r.ProtoMajor != 1 || r.ProtoMinor != 1 {
			t.Fatalf("net/http reads version %s", r.Proto)
		}
		// What net/http's server checks after reading (server.go readRequest;
		// http.ReadRequest refuses two Host fields and moves the one to r.Host).
		if r.Host == "" || !httpguts.ValidHostHeader(r.Host) {
			t.Fatalf("net/http's server refuses Host %q", r.Host)
		}
		for name, values := range r.Header {
			if !httpguts.ValidHeaderFieldName(name) {
				t.Fatalf("net/http's server refuses field name %q", name)
			}
			for _, v := range values {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("net/http's server refuses field value %q", v)
				}
			}
		}
		if r.Header["Expect"] != nil || r.Header["Upgrade"] != nil || r.Header["Range"] != nil {
			t.Fatalf("fast path accepted a request with Expect, Upgrade or Range: %q", in)
		}
		// The request the full handler gets on the fast connection.
		c := &h1conn{buf: in, end: len(in), req: req}
		fr, ok := c.newRequest(t.Context(), n)
		if !ok {
			t.Fatalf("no request built for %q", in)
		}
		if fr.Method != r.Method || fr.RequestURI != r.RequestURI || fr.URL.String() != r.URL.String() || fr.Host != r.Host ||
			fr.Close != r.Close || !reflect.DeepEqual(fr.Header, r.Header) {
			t.Fatalf("built %s %q %q host %q close %v %v; net/http %s %q %q host %q close %v %v", fr.Method, fr.RequestURI, fr.URL, fr.Host, fr.Close, fr.Header,
				r.Method, r.RequestURI, r.URL, r.Host, r.Close, r.Header)
		}
	})
}
