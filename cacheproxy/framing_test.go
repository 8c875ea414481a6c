package cacheproxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// echoRequest answers with what the origin received: method, target,
// framing and body; max-age=60 so GETs are stored.
func echoRequest(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" te="+strings.Join(r.TransferEncoding, ",")+
		" cl="+r.Header.Get("Content-Length")+" body="+string(body))
}

// TestAmbiguousFramingRefused: a request with both Content-Length and
// Transfer-Encoding is refused with 400 and its connection closed, nothing
// reaching the origin and nothing after it on the connection read as a
// request; a chunked request is forwarded chunked and its connection closed
// after the answer (RFC 9112 §6.1, red team C4). On both ways of serving.
func TestAmbiguousFramingRefused(t *testing.T) {
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
	const last = "GET /last HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
	for _, c := range []struct {
		name string
		in   string
		want []string // status and body prefix of each answer, in order
		// origin is how many requests reach the origin.
		origin int64
		close  []bool // Connection: close on each answer
	}{
		{"CL then TE", "POST /p HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			[]string{"400 a request with both"}, 0, []bool{true}},
		{"TE then CL, GET", "GET /p HTTP/1.1\r\nHost: www.example.com\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n" + smuggled,
			[]string{"400 a request with both"}, 0, []bool{true}},
		{"after a request", "GET /first HTTP/1.1\r\nHost: www.example.com\r\n\r\n" +
			"POST /p HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			[]string{"200 GET /first", "400 a request with both"}, 1, []bool{false, true}},
		{"HTTP/1.0", "POST /p HTTP/1.0\r\nHost: www.example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
			[]string{"400 a request with both"}, 0, []bool{true}},
		{"chunked only", "POST /p HTTP/1.1\r\nHost: www.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled,
			[]string{"200 POST /p te= cl=5 body=hello"}, 1, []bool{true}}, // buffered whole, sent with its length (reqbody.go)
		{"a body that looks like a head", "POST /p HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 65\r\n\r\n" +
			"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" + last,
			[]string{"200 POST /p te= cl=65 body=GET / HTTP/1.1", "200 GET /last"}, 2, []bool{false, true}},
	} {
		for _, front := range []string{"fast path", "net/http"} {
			t.Run(c.name+"/"+front, func(t *testing.T) {
				e := newEnv(t, echoRequest)
				addr := e.fronts()[front]
				got := rawExchange(t, addr, c.in)
				if len(got) != len(c.want) {
					t.Fatalf("%d answers, want %d: %+v", len(got), len(c.want), got)
				}
				for i, r := range got {
					if s := itoa(int64(r.status)) + " " + r.body; !strings.HasPrefix(s, c.want[i]) {
						t.Errorf("answer %d: %q, want %q...", i+1, s, c.want[i])
					}
					if r.close != c.close[i] {
						t.Errorf("answer %d: Connection: close %v, want %v", i+1, r.close, c.close[i])
					}
				}
				if n := e.origin.requests.Load(); n != c.origin {
					t.Errorf("origin saw %d requests, want %d", n, c.origin)
				}
			})
		}
	}
}

// TestFrameScanner follows heads and bodies fed in pieces of every size.
func TestFrameScanner(t *testing.T) {
	for _, c := range []struct {
		name              string
		in                string
		teHead, ambiguous bool
	}{
		{"no body", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", false, false},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, false},
		{"CL and TE", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", true, true},
		{"bare LF", "POST / HTTP/1.1\nContent-Length: 3\nTransfer-Encoding: chunked\n\n", true, true},
		{"CL body skipped", "POST / HTTP/1.1\r\nContent-Length: 46\r\n\r\nX\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\nGET / HTTP/1.1\r\n\r\n", false, false},
		{"second request", "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTRANSFER-ENCODING: chunked\r\nContent-Length:\t7 \r\n\r\n", true, true},
		{"leading empty line", "\r\nPOST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", true, true},
		{"invalid CL stops", "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabcPOST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false, false},
	} {
		for step := 1; step <= len(c.in); step++ {
			var s frameScanner
			for i := 0; i < len(c.in); i += step {
				s.feed([]byte(c.in[i:min(i+step, len(c.in))]))
			}
			if s.teHead.Load() != c.teHead || s.ambiguous.Load() != c.ambiguous {
				t.Fatalf("%s, pieces of %d: teHead %v ambiguous %v, want %v %v", c.name, step, s.teHead.Load(), s.ambiguous.Load(), c.teHead, c.ambiguous)
			}
		}
	}
}

// TestGetWithBodyIsNeverStored: a GET or HEAD with a body goes to the
// origin with its body and its answer is neither stored nor served from
// the cache (red team C2: an origin that reads the body answered the
// attacker's body to everyone). On both ways of serving.
func TestGetWithBodyIsNeverStored(t *testing.T) {
	for _, front := range []string{"fast path", "net/http"} {
		t.Run(front, func(t *testing.T) {
			e := newEnv(t, echoRequest)
			addr := e.fronts()[front]
			const plain = "GET /search HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
			for _, c := range []struct{ in, want string }{
				{"GET /search HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 10\r\nConnection: close\r\n\r\nq=poisoned",
					"GET /search te= cl=10 body=q=poisoned"},
				{"GET /search HTTP/1.1\r\nHost: www.example.com\r\nTransfer-Encoding: chunked\r\n\r\na\r\nq=poisoned\r\n0\r\n\r\n",
					"GET /search te= cl=10 body=q=poisoned"}, // buffered whole, sent with its length (reqbody.go)
			} {
				got := rawExchange(t, addr, c.in)
				if len(got) != 1 || got[0].body != c.want || !strings.Contains(got[0].cacheStatus(), "fwd=bypass") || strings.Contains(got[0].cacheStatus(), "stored") {
					t.Fatalf("GET with a body: %+v, want %q bypassing the cache", got, c.want)
				}
				if r := rawExchange(t, addr, plain); len(r) != 1 || strings.Contains(r[0].body, "poisoned") {
					t.Fatalf("GET without a body after one with: %+v", r)
				}
			}
			// Stored now (by the plain GETs): a GET with a body still goes
			// to the origin.
			if r := rawExchange(t, addr, plain); !strings.HasPrefix(r[0].cacheStatus(), "cacheproxy; hit") {
				t.Fatalf("plain GET: %q, want a hit", r[0].cacheStatus())
			}
			got := rawExchange(t, addr, "GET /search HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
			if len(got) != 1 || !strings.HasSuffix(got[0].body, "body=x") {
				t.Fatalf("GET with a body on a stored URL: %+v, want the origin's answer", got)
			}
		})
	}
}
