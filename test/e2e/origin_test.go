package e2e_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cacheops/purge-operator/test/origin"
)

// testOrigin is a demo origin served on a free loopback port for one spec.
// The pods are local processes and reach it at URL.
type testOrigin struct {
	*origin.Origin
	URL string
}

// startOrigin starts an origin that the spec's cleanup stops.
func startOrigin(ctx context.Context) *testOrigin {
	GinkgoHelper()
	o := origin.New(origin.Options{})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(srv.Close)
	return &testOrigin{Origin: o, URL: "http://" + ln.Addr().String()}
}

// control calls the origin's control surface as an operator would with
// curl: POST /_origin/fail, /_origin/recover, /_origin/edit?path=...
func (o *testOrigin) control(ctx context.Context, path string, query url.Values) {
	GinkgoHelper()
	u := o.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusNoContent), "POST %s", u)
}

// fail makes the origin answer 503 to everything until recover; the spec's
// cleanup recovers it.
func (o *testOrigin) fail(ctx context.Context) {
	GinkgoHelper()
	o.control(ctx, "/_origin/fail", nil)
	DeferCleanup(o.SetFailing, false)
}

func (o *testOrigin) recover(ctx context.Context) {
	GinkgoHelper()
	o.control(ctx, "/_origin/recover", nil)
}

// edit changes a page's content at the origin, so that even a conditional
// request renders a new version.
func (o *testOrigin) edit(ctx context.Context, path string) {
	GinkgoHelper()
	o.control(ctx, "/_origin/edit", url.Values{"path": {path}})
}

// requests is how many requests the origin received for path.
func (o *testOrigin) requests(path string) int { return o.Stats().Requests[path] }
