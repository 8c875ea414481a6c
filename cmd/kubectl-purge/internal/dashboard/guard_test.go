package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/dashboard"
)

// call makes one request to the dashboard with the given Host, Origin and
// token ("" leaves each out) and returns the status and body.
func call(d *runningDashboard, method, path, host, origin, token, body string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(method, d.url+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set(dashboard.TokenHeader, token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Header.Values("Set-Cookie")).To(BeEmpty(), "the dashboard sets no cookie")
	return resp.StatusCode, string(b)
}

var tokenMeta = regexp.MustCompile(`<meta name="dashboard-token" content="([0-9a-f]{64})">`)

var _ = Describe("kubectl purge dashboard's own origin", func() {
	var (
		ns, token string
		d         *runningDashboard
		body      string
	)
	BeforeEach(func() {
		ns = newNamespace()
		d = startDashboard(adminKubeconfig, ns)
		code, page := call(d, http.MethodGet, "/", "", "", "", "")
		Expect(code).To(Equal(http.StatusOK))
		m := tokenMeta.FindStringSubmatch(page)
		Expect(m).NotTo(BeNil(), "the page carries the run's token in a meta tag")
		token = m[1]
		body = `{"namespace":"` + ns + `","cacheProxy":"edge","mode":"simple","urls":["https://www.example.com/a"]}`
	})

	purges := func() []cachev1alpha1.Purge {
		var list cachev1alpha1.PurgeList
		Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}

	It("listens on loopback and answers its printed address and localhost:PORT", func() {
		Expect(d.host).To(HavePrefix("127.0.0.1:"))
		port := strings.TrimPrefix(d.host, "127.0.0.1:")
		code, _ := call(d, http.MethodGet, "/api/context", "localhost:"+port, "", "", "")
		Expect(code).To(Equal(http.StatusOK))
	})

	It("refuses every request with another Host, GET included (DNS rebinding)", func() {
		port := strings.TrimPrefix(d.host, "127.0.0.1:")
		for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1", "localhost:1", "127.0.0.2:" + port} {
			code, msg := call(d, http.MethodGet, "/", host, "", "", "")
			Expect(code).To(Equal(http.StatusMisdirectedRequest), host)
			Expect(msg).To(ContainSubstring("is not this dashboard's address"))
			Expect(msg).NotTo(ContainSubstring(token))
		}
		code, _ := call(d, http.MethodPost, "/api/purges", "evil.example:"+port, "", token, body)
		Expect(code).To(Equal(http.StatusMisdirectedRequest))
		Expect(purges()).To(BeEmpty())
	})

	It("refuses a state-changing request from another origin, or without the run's token", func() {
		code, msg := call(d, http.MethodPost, "/api/purges", "", "http://evil.example", token, body)
		Expect(code).To(Equal(http.StatusForbidden))
		Expect(msg).To(ContainSubstring(`from origin "http://evil.example"`))
		code, _ = call(d, http.MethodPost, "/api/purges", "", "null", token, body)
		Expect(code).To(Equal(http.StatusForbidden))
		code, msg = call(d, http.MethodPost, "/api/purges", "", "http://"+d.host, "", body)
		Expect(code).To(Equal(http.StatusForbidden))
		Expect(msg).To(ContainSubstring("missing or wrong " + dashboard.TokenHeader))
		code, _ = call(d, http.MethodPost, "/api/purges", "", "http://"+d.host, strings.Repeat("0", 64), body)
		Expect(code).To(Equal(http.StatusForbidden))
		Expect(purges()).To(BeEmpty())

		code, msg = call(d, http.MethodPost, "/api/purges", "", "http://"+d.host, token, body)
		Expect(code).To(Equal(http.StatusCreated), msg)
		Expect(purges()).To(HaveLen(1))
	})
})

var _ = Describe("kubectl purge dashboard's own origin, in Chromium", func() {
	It("answers no page reached under another name and takes no POST from another site's page", func() {
		ns := newNamespace()
		d := startDashboard(adminKubeconfig, ns)
		port := strings.TrimPrefix(d.host, "127.0.0.1:")
		t := newTab()
		var mu sync.Mutex // guards statuses
		statuses := map[string][]int64{}
		Expect(chromedp.Listen(t.ctx, func(ev any) {
			if e, ok := ev.(*network.EventResponseReceived); ok && strings.HasPrefix(e.Response.URL, d.url) {
				mu.Lock()
				statuses[e.Response.URL] = append(statuses[e.Response.URL], e.Response.Status)
				mu.Unlock()
			}
		})).To(Succeed())
		_, err := chromedp.Call(t.ctx, network.Enable, network.EnableParams{})
		Expect(err).NotTo(HaveOccurred())
		got := func(url string) func() []int64 {
			return func() []int64 { mu.Lock(); defer mu.Unlock(); return slices.Clone(statuses[url]) }
		}

		By("refusing the dashboard reached under another name (DNS rebinding: Chromium sends *.localhost to loopback)")
		rebound := "http://rebound.localhost:" + port + "/"
		t.run(chromedp.Navigate(rebound))
		Expect(t.text("body")()).To(ContainSubstring(`refused: Host "rebound.localhost:` + port + `" is not this dashboard's address`))
		Expect(t.eval(`document.querySelector('meta[name="dashboard-token"]') === null`)).To(BeTrue())

		By("refusing POSTs that another site's page sends, with or without a guessed token")
		body := `{"namespace":"` + ns + `","cacheProxy":"edge","mode":"simple","urls":["https://www.example.com/a"]}`
		site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><title>another site</title><p>another site</p>`)
		}))
		DeferCleanup(site.Close)
		t.run(chromedp.Navigate(site.URL))
		target := d.url + "api/purges"
		t.eval(fmt.Sprintf(`fetch(%q, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: %q}).catch(() => {}), 1`, target, body))
		Eventually(got(target)).Should(Equal([]int64{http.StatusForbidden}), "the simple POST reached the dashboard and was refused")
		read := t.await(fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/json", %q: "0"}, body: %q})
			.then(r => "read " + r.status, e => "failed: " + e.name)`, target, dashboard.TokenHeader, body))
		Expect(read).To(Equal("failed: TypeError"), "the preflight is refused, so the POST is never sent")
		Expect(got(target)()).To(HaveLen(2), "one more response: the refused preflight")
		page := t.await(fmt.Sprintf(`fetch(%q).then(r => r.text()).then(t => "read: " + t, e => "failed: " + e.name)`, d.url))
		Expect(page).To(Equal("failed: TypeError"), "another site cannot read the page, so not its token")

		var list cachev1alpha1.PurgeList
		Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
	})
})
