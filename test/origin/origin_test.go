package origin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/test/origin"
)

// fixedClock is a clock tests move by hand.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func newServer(t *testing.T) (*origin.Origin, *httptest.Server, *fixedClock) {
	t.Helper()
	clock := &fixedClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o := origin.New(origin.Options{Now: clock.now})
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return o, srv, clock
}

// response is what a test reads of an answer; the body is already read and
// closed.
type response struct {
	StatusCode int
	Header     http.Header
}

func do(t *testing.T, method, url string, header http.Header) (response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestPages(t *testing.T) {
	tests := []struct {
		path         string
		status       int
		contentType  string
		cacheControl string
		surrogateKey string
		body         string
	}{
		{"/", 200, "text/html; charset=utf-8", "public, max-age=60, stale-while-revalidate=30, stale-if-error=300", "home products html", "version 1"},
		{"/products/42", 200, "text/html; charset=utf-8", "public, max-age=60, stale-while-revalidate=30, stale-if-error=300", "product-42 products html", `<img src="/img/product-42.svg"`},
		{"/img/product-42.svg", 200, "image/svg+xml", "public, max-age=31536000, stale-if-error=86400", "images img-product-42 product-42", "version 1"},
		{"/img/logo.svg", 200, "image/svg+xml", "public, max-age=31536000, stale-if-error=86400", "images img-logo", "<svg"},
		{"/api/products/7", 200, "application/json", "public, max-age=30, s-maxage=120, stale-while-revalidate=15, stale-if-error=600", "product-7 products api", `"version":1`},
		{"/static/app.js?v=2", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable, stale-if-error=86400", "static js", "version 1"},
		{"/api/prices.json", 200, "application/json", "public, max-age=30, s-maxage=120, stale-while-revalidate=15, stale-if-error=600", "prices products api", `"version":1`},
		{"/products/0", 404, "", "public, max-age=10", "", "not found"},
		{"/products/1000", 404, "", "public, max-age=10", "", "not found"},
		{"/products/042", 404, "", "public, max-age=10", "", "not found"},
		{"/api/products/x", 404, "", "public, max-age=10", "", "not found"},
		{"/img/logo.png", 404, "", "public, max-age=10", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, srv, _ := newServer(t)
			resp, body := do(t, http.MethodGet, srv.URL+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			h := resp.Header
			if tt.contentType != "" && h.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", h.Get("Content-Type"), tt.contentType)
			}
			if h.Get("Cache-Control") != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", h.Get("Cache-Control"), tt.cacheControl)
			}
			if h.Get("Surrogate-Key") != tt.surrogateKey {
				t.Errorf("Surrogate-Key = %q, want %q", h.Get("Surrogate-Key"), tt.surrogateKey)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("body %q does not contain %q", body, tt.body)
			}
			if tt.status == 200 {
				if h.Get("X-Origin-Version") != "1" || !strings.HasPrefix(h.Get("ETag"), `"`) || h.Get("Last-Modified") != "Sun, 01 Mar 2026 12:00:00 GMT" {
					t.Errorf("validators: X-Origin-Version=%q ETag=%q Last-Modified=%q",
						h.Get("X-Origin-Version"), h.Get("ETag"), h.Get("Last-Modified"))
				}
			}
		})
	}
}

func TestEveryRenderIsANewVersion(t *testing.T) {
	_, srv, clock := newServer(t)
	first, body1 := do(t, http.MethodGet, srv.URL+"/products/42", nil)
	clock.t = clock.t.Add(time.Minute)
	second, body2 := do(t, http.MethodGet, srv.URL+"/products/42", nil)
	if first.Header.Get("X-Origin-Version") != "1" || second.Header.Get("X-Origin-Version") != "2" {
		t.Fatalf("versions %q then %q, want 1 then 2", first.Header.Get("X-Origin-Version"), second.Header.Get("X-Origin-Version"))
	}
	if !strings.Contains(body1, "version 1") || !strings.Contains(body2, "version 2") {
		t.Fatalf("bodies do not show the version:\n%s\n%s", body1, body2)
	}
	if first.Header.Get("ETag") == second.Header.Get("ETag") {
		t.Fatal("two versions share an ETag")
	}
	// A query string names another URL with its own counter.
	other, _ := do(t, http.MethodGet, srv.URL+"/products/42?v=2", nil)
	if other.Header.Get("X-Origin-Version") != "1" {
		t.Fatalf("?v=2 version = %q, want 1", other.Header.Get("X-Origin-Version"))
	}
}

func TestConditionalRequests(t *testing.T) {
	o, srv, clock := newServer(t)
	resp, _ := do(t, http.MethodGet, srv.URL+"/api/products/1", nil)
	etag, lastModified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	clock.t = clock.t.Add(time.Hour)

	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"matching etag", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"weak form of the etag", http.Header{"If-None-Match": {"W/" + etag}}, http.StatusNotModified},
		{"etag in a list", http.Header{"If-None-Match": {`"other", ` + etag}}, http.StatusNotModified},
		{"star", http.Header{"If-None-Match": {"*"}}, http.StatusNotModified},
		{"not modified since", http.Header{"If-Modified-Since": {lastModified}}, http.StatusNotModified},
	}
	for _, tt := range tests {
		resp, body := do(t, http.MethodGet, srv.URL+"/api/products/1", tt.header)
		if resp.StatusCode != tt.status || body != "" {
			t.Errorf("%s: status %d body %q, want %d and no body", tt.name, resp.StatusCode, body, tt.status)
		}
		if resp.Header.Get("ETag") != etag || resp.Header.Get("Surrogate-Key") == "" || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("%s: a 304 must carry the validators and caching headers: %v", tt.name, resp.Header)
		}
	}
	if v := o.Stats().Versions["/api/products/1"]; v != 1 {
		t.Fatalf("304s rendered: version = %d, want 1", v)
	}

	// A stale validator gets a full new render.
	resp, _ = do(t, http.MethodGet, srv.URL+"/api/products/1", http.Header{"If-None-Match": {`"stale"`}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Origin-Version") != "2" {
		t.Fatalf("stale validator: %d version %q, want 200 version 2", resp.StatusCode, resp.Header.Get("X-Origin-Version"))
	}

	// Once edited, the current validator no longer matches either.
	current := resp.Header.Get("ETag")
	resp, _ = do(t, http.MethodPost, srv.URL+"/_origin/edit?path=/api/products/1", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodGet, srv.URL+"/api/products/1", http.Header{"If-None-Match": {current}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Origin-Version") != "3" {
		t.Fatalf("after edit: %d version %q, want 200 version 3", resp.StatusCode, resp.Header.Get("X-Origin-Version"))
	}
}

func TestFailAndRecover(t *testing.T) {
	_, srv, _ := newServer(t)
	do(t, http.MethodGet, srv.URL+"/", nil)
	if resp, _ := do(t, http.MethodPost, srv.URL+"/_origin/fail", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("fail: %d", resp.StatusCode)
	}
	for _, path := range []string{"/", "/products/1", "/img/a.svg", "/api/products/1"} {
		resp, _ := do(t, http.MethodGet, srv.URL+path, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s while failing: %d %q, want 503 no-store", path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	resp, body := do(t, http.MethodGet, srv.URL+"/_origin/stats", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats while failing: %d", resp.StatusCode)
	}
	var stats origin.Stats
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		t.Fatal(err)
	}
	if !stats.Failing || stats.Requests["/"] != 2 || stats.Versions["/"] != 1 {
		t.Fatalf("stats = %+v, want failing, 2 requests and version 1 for /", stats)
	}

	do(t, http.MethodPost, srv.URL+"/_origin/recover", nil)
	resp, body = do(t, http.MethodGet, srv.URL+"/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "version 2") {
		t.Fatalf("after recover: %d %q", resp.StatusCode, body)
	}
}

func TestControlSurface(t *testing.T) {
	_, srv, _ := newServer(t)
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/_origin/fail", http.StatusMethodNotAllowed},
		{http.MethodPost, "/_origin/edit", http.StatusBadRequest},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/_origin/stats", http.StatusOK},
	}
	for _, tt := range tests {
		resp, _ := do(t, tt.method, srv.URL+tt.path, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}

// A new release's pods count versions from 1 again: what they render must
// still differ from the previous release's copy, validators included, or a
// cache revalidating its old copy would keep serving it.
func TestRelease(t *testing.T) {
	v1 := httptest.NewServer(origin.New(origin.Options{Release: "v1"}))
	t.Cleanup(v1.Close)
	v2 := httptest.NewServer(origin.New(origin.Options{Release: "v2"}))
	t.Cleanup(v2.Close)

	old, oldBody := do(t, http.MethodGet, v1.URL+"/", nil)
	if old.Header.Get("X-Origin-Release") != "v1" || !strings.Contains(oldBody, "release v1, version 1") {
		t.Fatalf("release v1: X-Origin-Release %q, body %q", old.Header.Get("X-Origin-Release"), oldBody)
	}
	resp, body := do(t, http.MethodGet, v2.URL+"/", http.Header{"If-None-Match": {old.Header.Get("ETag")}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Origin-Version") != "1" {
		t.Fatalf("release v2 with v1's ETag: %d version %q, want a new render of version 1", resp.StatusCode, resp.Header.Get("X-Origin-Version"))
	}
	if resp.Header.Get("ETag") == old.Header.Get("ETag") || !strings.Contains(body, "release v2, version 1") {
		t.Fatalf("release v2: ETag %q (v1's %q), body %q", resp.Header.Get("ETag"), old.Header.Get("ETag"), body)
	}
	_, js := do(t, http.MethodGet, v2.URL+"/api/prices.json", nil)
	var prices struct{ Release string }
	if err := json.Unmarshal([]byte(js), &prices); err != nil || prices.Release != "v2" {
		t.Fatalf("prices.json of release v2: %q, %v", js, err)
	}

	_, srv, _ := newServer(t)
	resp, body = do(t, http.MethodGet, srv.URL+"/", nil)
	if resp.Header.Get("X-Origin-Release") != "" || strings.Contains(body, "release") {
		t.Fatalf("no release: X-Origin-Release %q, body %q", resp.Header.Get("X-Origin-Release"), body)
	}
}

// The readiness probe's path answers 200, even while pages fail, and
// renders nothing.
func TestHealthz(t *testing.T) {
	o, srv, _ := newServer(t)
	do(t, http.MethodPost, srv.URL+"/_origin/fail", nil)
	resp, body := do(t, http.MethodGet, srv.URL+"/_origin/healthz", nil)
	if resp.StatusCode != http.StatusOK || body != "ok\n" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /_origin/healthz: %d %q Cache-Control %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	if v := o.Stats().Versions; len(v) != 0 {
		t.Fatalf("healthz rendered pages: %v", v)
	}
}

// TestTagStyles: ?tag-style= puts the same tags in the header, and with
// the separator, of the content system it names, and nowhere else.
func TestTagStyles(t *testing.T) {
	tests := []struct{ style, header, value string }{
		{"", "Surrogate-Key", "product-7 products api"},
		{"fastly", "Surrogate-Key", "product-7 products api"},
		{"magento", "X-Magento-Tags", "product-7,products,api"},
		{"drupal", "Cache-Tags", "product-7 products api"},
		{"api-platform", "Cache-Tags", "product-7,products,api"},
		{"fos", "X-Cache-Tags", "product-7,products,api"},
		{"typo3", "X-Cache-Tags", ";product-7;products;api;"},
		{"xkey", "Xkey", "product-7 products api"},
	}
	tagHeaders := []string{"Surrogate-Key", "X-Magento-Tags", "Cache-Tags", "X-Cache-Tags", "Xkey"}
	for _, tt := range tests {
		t.Run(tt.style, func(t *testing.T) {
			_, srv, _ := newServer(t)
			resp, _ := do(t, http.MethodGet, srv.URL+"/api/products/7?tag-style="+tt.style, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			for _, h := range tagHeaders {
				want := ""
				if h == tt.header {
					want = tt.value
				}
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}

	_, srv, _ := newServer(t)
	resp, body := do(t, http.MethodGet, srv.URL+"/api/products/7?tag-style=akamai", nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(body, `unknown tag-style "akamai": want one of api-platform, drupal, fastly, fos, magento, typo3, xkey`) {
		t.Fatalf("an unknown style: %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
}
