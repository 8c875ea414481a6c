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
	URL  string
	addr string
	srv  *http.Server // nil while down
}

// startOrigin starts an origin that the spec's cleanup stops.
func startOrigin(ctx context.Context) *testOrigin {
	GinkgoHelper()
	// On the host's address as pods see it: 127.0.0.1 is the pod itself.
	o := &testOrigin{Origin: origin.New(origin.Options{}), addr: net.JoinHostPort(cluster.HostIP().String(), "0")}
	o.up(ctx)
	o.URL = "http://" + o.addr
	DeferCleanup(func() {
		if o.srv != nil {
			_ = o.srv.Close()
		}
	})
	return o
}

// up serves the origin on its address (a free port the first time).
func (o *testOrigin) up(ctx context.Context) {
	GinkgoHelper()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.addr)
	Expect(err).NotTo(HaveOccurred())
	o.addr = ln.Addr().String()
	o.srv = &http.Server{Handler: o.Origin, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(o.srv)
}

// down takes the origin off the network, as a crashed origin is: its port
// refuses connections until the spec's cleanup (or back) serves it again,
// with the same content and counters.
func (o *testOrigin) down(ctx context.Context) {
	GinkgoHelper()
	Expect(o.srv.Close()).To(Succeed())
	o.srv = nil
	DeferCleanup(func(ctx SpecContext) {
		if o.srv == nil {
			o.up(ctx)
		}
	})
}

// back brings a down origin up again on the same address.
func (o *testOrigin) back(ctx context.Context) {
	GinkgoHelper()
	o.up(ctx)
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
