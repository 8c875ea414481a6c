package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Origin is the one origin every proxy under test sits in front of. Every
// response is cacheable for a day and carries a strong ETag, so the proxies
// revalidate rather than refetch when they can. The first path segment
// chooses the body:
//
//	/1k/...    1 KiB
//	/100k/...  100 KiB
//	/1m/...    1 MiB
//	/small/... 256 bytes (the million-object cache of the invalidation tests)
//	/slow/...  1 KiB after Options.SlowDelay (origin protection: a miss that
//	           is not coalesced shows up as an extra origin request)
//	other      1 KiB
//
// Tags: every response carries "Surrogate-Key: all <class>", plus each path
// segment of the form g<digits> ("/fleet/g7/o712" is tagged g7), plus
// k<n/10000> when the last segment is a number n ("/small/123456" is tagged
// k12): a tag purge of k12 invalidates the 10,000 objects /small/120000 to
// /small/129999.
//
// GET /_bench/stats answers {"requests": N, "paths": {path: N}}: requests is
// every request but the stats ones, paths counts the /slow/ paths apart.
type Origin struct {
	slowDelay time.Duration
	requests  atomic.Int64
	// mu guards slow, the request count of each /slow/ path.
	mu   sync.Mutex
	slow map[string]*atomic.Int64
}

// OriginStatsPath is the origin's request counter endpoint.
const OriginStatsPath = "/_bench/stats"

// Body sizes of the origin's size classes.
const (
	SmallBody = 256
	Body1K    = 1 << 10
	Body100K  = 100 << 10
	Body1M    = 1 << 20
)

var bodies = map[string][]byte{
	"small": makeBody(SmallBody),
	"1k":    makeBody(Body1K),
	"100k":  makeBody(Body100K),
	"1m":    makeBody(Body1M),
}

func makeBody(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789\n"
	return bytes.Repeat([]byte(alphabet), n/len(alphabet)+1)[:n]
}

// NewOrigin returns an origin whose /slow/ paths answer after slowDelay.
func NewOrigin(slowDelay time.Duration) *Origin {
	return &Origin{slowDelay: slowDelay, slow: map[string]*atomic.Int64{}}
}

// lastModified is the Last-Modified of every response: the content never changes.
const lastModified = "Thu, 01 Jan 2026 00:00:00 GMT"

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == OriginStatsPath {
		o.serveStats(w)
		return
	}
	o.requests.Add(1)
	class, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, ok := bodies[class]
	if class == "slow" {
		o.countSlow(r.URL.Path)
		if o.slowDelay > 0 {
			select {
			case <-time.After(o.slowDelay):
			case <-r.Context().Done():
				return
			}
		}
	}
	if !ok {
		body, class = bodies["1k"], "1k"
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Cache-Control"] = []string{"public, max-age=86400"}
	h["Etag"] = []string{`"` + class + `-v1"`}
	h["Last-Modified"] = []string{lastModified}
	h["Surrogate-Key"] = []string{surrogateKeys(r.URL.Path, class)}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, `"`+class+`-v1"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// surrogateKeys is "all <class>", each g<digits> segment of path, and
// k<n/10000> for a numeric last segment n.
func surrogateKeys(path, class string) string {
	keys := "all " + class
	last := ""
	for seg := range strings.SplitSeq(path, "/") {
		if len(seg) > 1 && seg[0] == 'g' && isDigits(seg[1:]) {
			keys += " " + seg
		}
		last = seg
	}
	if isDigits(last) && len(last) < 18 {
		n, _ := strconv.ParseInt(last, 10, 64)
		keys += " k" + strconv.FormatInt(n/TagGroupSize, 10)
	}
	return keys
}

// TagGroupSize is how many consecutive numbered objects share a k tag.
const TagGroupSize = 10000

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (o *Origin) countSlow(path string) {
	o.mu.Lock()
	c := o.slow[path]
	if c == nil {
		c = new(atomic.Int64)
		o.slow[path] = c
	}
	o.mu.Unlock()
	c.Add(1)
}

// Requests is the number of requests served so far.
func (o *Origin) Requests() int64 { return o.requests.Load() }

// PathRequests is the number of requests for one /slow/ path so far.
func (o *Origin) PathRequests(path string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.slow[path]; c != nil {
		return c.Load()
	}
	return 0
}

func (o *Origin) serveStats(w http.ResponseWriter) {
	o.mu.Lock()
	paths := make(map[string]int64, len(o.slow))
	for p, c := range o.slow {
		paths[p] = c.Load()
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"requests": o.requests.Load(), "paths": paths})
}

// ServeOrigin serves o on a free loopback port until ctx ends; it returns
// the address ("127.0.0.1:port") and a function that stops the server.
func ServeOrigin(ctx context.Context, o *Origin) (string, func(), error) {
	return serveOriginOn(ctx, o, "127.0.0.1")
}

// serveOriginOn serves o on a free port of host.
func serveOriginOn(ctx context.Context, o *Origin, host string) (string, func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() { _ = srv.Serve(ln) }() // returns at Close
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
