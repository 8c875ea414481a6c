package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"

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
