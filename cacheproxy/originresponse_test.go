package cacheproxy

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// originResponseSeeds are answers of every framing, and the refusals.
var originResponseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhellotail",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\ntail",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nEtag: \"x\"\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 1\nset-cookie: a=1\nSet-Cookie: b=2\n\nx",
	"HTTP/1.1 200\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces:   a b  \r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
	"HTTP/2.0 200 OK\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
}

// Every answer the parser accepts, net/http's client accepts the same way:
// the same status, header (once the fill drops the hop-by-hop fields),
// body bytes, trailer names, and the same bytes left on the connection
// after the body, so the two never disagree on where an answer ends.
// What it refuses is either refused by net/http too or one of the
// documented refusals (originResponseError).
func FuzzOriginResponse(f *testing.F) {
	for _, s := range originResponseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, _ := http.NewRequest(http.MethodGet, "http://origin/", nil)
		mine, mineTrailer, mineRest, mineErr := readAll(raw, func(br *bufio.Reader) (*http.Response, error) { //nolint:bodyclose // readAll closes it
			resp, _, err := readOriginResponse(br, nil)
			return resp, err
		})
		theirs, theirTrailer, theirRest, theirErr := readAll(raw, func(br *bufio.Reader) (*http.Response, error) { //nolint:bodyclose // readAll closes it
			return http.ReadResponse(br, req)
		})
		if mineErr != nil {
			var bad *originResponseError
			if theirErr == nil && !errors.As(mineErr, &bad) && !errors.Is(mineErr, errOriginTrailer) {
				t.Fatalf("refused %q with %v, which net/http accepts", raw, mineErr)
			}
			return
		}
		if theirErr != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", raw, theirErr)
		}
		if mine.StatusCode != theirs.StatusCode || mine.Close != theirs.Close || mine.ContentLength != theirs.ContentLength {
			t.Fatalf("%q: status, close, length %d %v %d; net/http %d %v %d", raw,
				mine.StatusCode, mine.Close, mine.ContentLength, theirs.StatusCode, theirs.Close, theirs.ContentLength)
		}
		removeHopByHopFields(mine.Header)
		removeHopByHopFields(theirs.Header)
		if !maps.EqualFunc(mine.Header, theirs.Header, slices.Equal) {
			t.Fatalf("%q: header %q; net/http %q", raw, mine.Header, theirs.Header)
		}
		if !slices.Equal(mineTrailer, theirTrailer) {
			t.Fatalf("%q: trailer %q; net/http %q", raw, mineTrailer, theirTrailer)
		}
		if mineRest != theirRest {
			t.Fatalf("%q: body and rest %q; net/http %q", raw, mineRest, theirRest)
		}
	})
}

// readAll parses raw with parse and reads the body; trailer is the
// trailer names the head announced (what a fill reads of them, before the
// body), rest the body followed by what the reader still held after it.
func readAll(raw string, parse func(*bufio.Reader) (*http.Response, error)) (resp *http.Response, trailer []string, rest string, err error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 4<<10)
	if resp, err = parse(br); err != nil {
		return nil, nil, "", err
	}
	defer resp.Body.Close()
	trailer = slices.Sorted(maps.Keys(resp.Trailer))
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, "", err
	}
	after, _ := io.ReadAll(br)
	return resp, trailer, string(body) + "|" + string(after), nil
}

// The refusals, each a 502 that says why in its Cache-Status, never
// stored: the next request asks the origin again.
func TestOriginResponseRefusals(t *testing.T) {
	big := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Big: "+strings.Repeat("b", 1000)+"\r\n", 70) + "Content-Length: 0\r\n\r\n"
	many := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-F: 1\r\n", maxOriginFields+1) + "Content-Length: 0\r\n\r\n"
	answers := map[string]string{
		"/cl-cl":     cacheable + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"/cl-cl-eq":  cacheable + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"/cl-te":     cacheable + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"/te-cl":     cacheable + "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"/te-http10": "HTTP/1.0 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"/obs-fold":  cacheable + "X-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
		"/bad-name":  cacheable + "X Bad: 1\r\nContent-Length: 2\r\n\r\nok",
		"/ctl-value": cacheable + "X-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok",
		"/bad-cl":    cacheable + "Content-Length: +2\r\n\r\nok",
		"/version":   "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/status":    "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok",
		"/too-big":   big,
		"/too-many":  many,
	}
	o := newScriptedOrigin(t, func(_, _ int, req *http.Request) scriptedAnswer {
		return scriptedAnswer{raw: answers[req.URL.Path], close: true}
	})
	base := newScriptedProxy(t, o)
	calls := int64(0)
	for path := range answers {
		for range 2 {
			code, h, _ := getBody(t, base, path)
			calls++
			if cs := h.Get("Cache-Status"); code != http.StatusBadGateway || !strings.Contains(cs, "detail=origin-invalid-response") {
				t.Errorf("GET %s: %d, Cache-Status %q; want 502 with detail=origin-invalid-response", path, code, cs)
			}
		}
	}
	if n := o.conns.Load(); n != calls {
		t.Errorf("origin asked %d times for %d requests: a refused answer was stored", n, calls)
	}
}

// Bare LF line ends, as net/http, nginx and Varnish accept them; field
// names canonicalised; Pragma: no-cache read as Cache-Control.
func TestOriginResponseParse(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\ncontent-type: text/plain\nPragma: no-cache\nset-cookie: a\nSet-Cookie: b\nContent-Length: 2\n\nok"))
	resp, _, err := readOriginResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := http.Header{"Content-Type": {"text/plain"}, "Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}, "Set-Cookie": {"a", "b"}, "Content-Length": {"2"}}
	if !maps.EqualFunc(resp.Header, want, slices.Equal) || resp.ContentLength != 2 {
		t.Fatalf("header %q, length %d; want %q, 2", resp.Header, resp.ContentLength, want)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
}
