package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The README's section on the purge gateway shows what each client family
// sends as a curl command. Each command is read from README.md, sent here
// as curl sends it, and must become the Purge and the answer the README
// says; a curl command in that section without an entry below, or an
// entry the README no longer shows, fails the suite.
//
// The README's world is a CacheProxy "edge" in namespace "web" serving
// www.example.com; here each command runs against a site of its own, so
// web becomes the site's namespace, the gateway's in-cluster addresses
// become the test gateway's, and $TOKEN a token of the site's "cms"
// ServiceAccount.
var _ = Describe("The README's curl examples", func() {
	type example struct {
		spec   cachev1alpha1.PurgeSpec
		source cachev1alpha1.PurgeSource
		// answer is the body, NAME standing for the Purge's name.
		answer string
		// fromPod, if set, is the app label of a pod the CacheProxy lets
		// in without a token, the command being sent from it.
		fromPod string
	}
	tags := func(mode cachev1alpha1.PurgeMode, t ...string) cachev1alpha1.PurgeSpec {
		return cachev1alpha1.PurgeSpec{Mode: mode, Tags: t}
	}
	urls := func(mode cachev1alpha1.PurgeMode, u ...string) cachev1alpha1.PurgeSpec {
		return cachev1alpha1.PurgeSpec{Mode: mode, URLs: u}
	}
	wholeHost := cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeBan, URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}
	const simple, soft, ban = cachev1alpha1.PurgeModeSimple, cachev1alpha1.PurgeModeSoft, cachev1alpha1.PurgeModeBan
	const varnish, fastly, cloudflare = cachev1alpha1.PurgeSourceVarnish, cachev1alpha1.PurgeSourceFastly, cachev1alpha1.PurgeSourceCloudflare
	const varnishAnswer = `{"purges":["NAME"]}`
	const fastlyAnswer = `{"status":"ok","id":"NAME"}`
	const cloudflareAnswer = `{"success":true,"errors":[],"messages":[],"result":{"id":"NAME","purges":["NAME"]}}`

	examples := map[string]example{
		// Magento
		`curl -X PURGE http://edge-purge.web.svc:8090/ -H 'X-Magento-Tags-Pattern: ((^|,)cat_p_42(,|$))|((^|,)cat_c_7(,|$))'`: {
			spec: tags(simple, "cat_p_42", "cat_c_7"), source: varnish, answer: varnishAnswer, fromPod: "magento"},
		`curl -X PURGE http://edge-purge.web.svc:8090/ -H 'X-Magento-Tags-Pattern: .*'`: {
			spec: wholeHost, source: varnish, answer: varnishAnswer, fromPod: "magento"},
		// Drupal
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'Cache-Tags: node:1|node_list|config:system.menu.main' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "node:1", "node_list", "config:system.menu.main"), source: varnish, answer: varnishAnswer},
		// WordPress
		`curl -X PURGE http://edge-purge.web.svc:8090/2026/12/hello-world/ -H 'Host: www.example.com' -H 'X-Purge-Method: default' -H "Authorization: Bearer $TOKEN"`: {
			spec: urls(simple, "https://www.example.com/2026/12/hello-world/"), source: varnish, answer: varnishAnswer},
		`curl -X PURGE 'http://edge-purge.web.svc:8090/.*' -H 'Host: www.example.com' -H 'X-Purge-Method: regex' -H "Authorization: Bearer $TOKEN"`: {
			spec: wholeHost, source: varnish, answer: varnishAnswer},
		`curl -X PURGE http://edge-purge.web.svc:8090/ -H 'Host: www.example.com' -H 'X-Purge-Method: tags' -H 'X-Cache-Tags-Pattern: p-42|feed' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "p-42", "feed"), source: varnish, answer: varnishAnswer},
		// Symfony / FOSHttpCache
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'X-Cache-Tags: (^|,)(news\-123|user\-7)(,|$)' -H 'X-Host: .*' -H 'X-Url: .*' -H 'X-Content-Type: .*' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "news-123", "user-7"), source: varnish, answer: varnishAnswer},
		`curl -X PURGE http://edge-purge.web.svc:8090/news/123 -H 'Host: www.example.com' -H "Authorization: Bearer $TOKEN"`: {
			spec: urls(simple, "https://www.example.com/news/123"), source: varnish, answer: varnishAnswer},
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'X-Host: ^(www\.example\.com)$' -H 'X-Url: ^/news/' -H 'X-Content-Type: .*' -H "Authorization: Bearer $TOKEN"`: {
			spec: urls(ban, "https://www.example.com/news/"), source: varnish, answer: varnishAnswer},
		`curl -X PURGEKEYS http://edge-purge.web.svc:8090/ -H 'xkey-softpurge: news-123 user-7' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(soft, "news-123", "user-7"), source: varnish, answer: varnishAnswer},
		// API Platform
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'ApiPlatform-Ban-Regex: (/books/1|/books)($|\,)' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "/books/1", "/books"), source: varnish, answer: varnishAnswer},
		`curl -X PURGE http://edge-purge.web.svc:8090/ -H 'xkey: /books/1 /books' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "/books/1", "/books"), source: varnish, answer: varnishAnswer},
		// Shopware
		`curl -X PURGE http://edge-purge.web.svc:8090/ -H 'xkey: product-0191 category-7'`: {
			spec: tags(simple, "product-0191", "category-7"), source: varnish, answer: varnishAnswer, fromPod: "shopware"},
		`curl -X BAN http://edge-purge.web.svc:8090/`: {
			spec: wholeHost, source: varnish, answer: varnishAnswer, fromPod: "shopware"},
		// TYPO3
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'X-Cache-Tags: ;pageId_42;'`: {
			spec: tags(simple, "pageId_42"), source: varnish, answer: varnishAnswer, fromPod: "typo3"},
		`curl -X BAN http://edge-purge.web.svc:8090/ -H 'X-Cache-Tags: ;tt_content{[0-9,]*,42,[0-9,]*};'`: {
			spec: tags(simple, "tt_content_42"), source: varnish, answer: varnishAnswer, fromPod: "typo3"},
		`curl -X BAN http://edge-purge.web.svc:8090/news/my-article.html -H 'X-Host: www.example.com' -H 'X-Url: /news/my-article.html'`: {
			spec: urls(ban, "https://www.example.com/news/my-article.html"), source: varnish, answer: varnishAnswer, fromPod: "typo3"},
		// Fastly API
		`curl -X POST http://purge-operator-purge-gateway.purge-operator-system.svc:8090/service/web.edge/purge/product-42 -H "Fastly-Key: $TOKEN"`: {
			spec: tags(simple, "product-42"), source: fastly, answer: fastlyAnswer},
		`curl -X POST http://purge-operator-purge-gateway.purge-operator-system.svc:8090/service/web.edge/purge -H "Fastly-Key: $TOKEN" -H 'Surrogate-Key: product-42 category-7' -H 'Fastly-Soft-Purge: 1'`: {
			spec: tags(soft, "product-42", "category-7"), source: fastly, answer: `{"product-42":"NAME","category-7":"NAME"}`},
		`curl -X POST http://purge-operator-purge-gateway.purge-operator-system.svc:8090/purge/www.example.com/products/42 -H "Fastly-Key: $TOKEN"`: {
			spec: urls(simple, "https://www.example.com/products/42"), source: fastly, answer: fastlyAnswer},
		`curl -X POST http://purge-operator-purge-gateway.purge-operator-system.svc:8090/service/web.edge/purge_all -H "Fastly-Key: $TOKEN"`: {
			spec: wholeHost, source: fastly, answer: fastlyAnswer},
		// Cloudflare API
		`curl http://purge-operator-purge-gateway.purge-operator-system.svc:8090/client/v4/zones/web.edge/purge_cache -H "Authorization: Bearer $TOKEN" --json '{"files":["https://www.example.com/products/42"]}'`: {
			spec: urls(simple, "https://www.example.com/products/42"), source: cloudflare, answer: cloudflareAnswer},
		`curl http://purge-operator-purge-gateway.purge-operator-system.svc:8090/client/v4/zones/web.edge/purge_cache -H "Authorization: Bearer $TOKEN" --json '{"tags":["product-42"]}'`: {
			spec: tags(simple, "product-42"), source: cloudflare, answer: cloudflareAnswer},
		`curl http://purge-operator-purge-gateway.purge-operator-system.svc:8090/client/v4/zones/web.edge/purge_cache -H "Authorization: Bearer $TOKEN" --json '{"prefixes":["www.example.com/img/"]}'`: {
			spec: urls(ban, "https://www.example.com/img/"), source: cloudflare, answer: cloudflareAnswer},
		`curl http://purge-operator-purge-gateway.purge-operator-system.svc:8090/client/v4/zones/web.edge/purge_cache -H "Authorization: Bearer $TOKEN" --json '{"purge_everything":true}'`: {
			spec: wholeHost, source: cloudflare, answer: cloudflareAnswer},
		// curl from a laptop, through kubectl port-forward
		`curl -X PURGE http://localhost:8090/products/42 -H 'Host: www.example.com' -H "Authorization: Bearer $TOKEN"`: {
			spec: urls(simple, "https://www.example.com/products/42"), source: varnish, answer: varnishAnswer},
		`curl -X PURGE http://localhost:8090/ -H 'Host: edge-purge.web.svc' -H 'xkey: product-42' -H "Authorization: Bearer $TOKEN"`: {
			spec: tags(simple, "product-42"), source: varnish, answer: varnishAnswer},
	}

	It("shows only the commands tested here, and each one the README shows is", func() {
		commands := make([]string, 0, len(examples))
		for c := range examples {
			commands = append(commands, c)
		}
		Expect(readmeCurls()).To(ConsistOf(commands))
	})

	for command, want := range examples {
		It("turns "+command+" into the Purge the README says", func(ctx SpecContext) {
			s := newSite(ctx, "www.example.com")
			if want.fromPod != "" {
				sourcePod(ctx, s.ns, want.fromPod+"-0", map[string]string{"app": want.fromPod})
				s.cp.Spec.PurgeGateway = &cachev1alpha1.PurgeGatewaySpec{Enabled: true, AllowUnauthenticatedFrom: &cachev1alpha1.PurgeSourcePods{
					PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": want.fromPod}}}}
				Expect(kube.Update(ctx, s.cp)).To(Succeed())
				s.seen(ctx)
			}
			req, err := curlRequest(ctx, command, s)
			Expect(err).NotTo(HaveOccurred())
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))

			name := resp.Header.Get("X-Purge-Name")
			Expect(name).To(HavePrefix("edge-"+string(want.source)+"-"), "one Purge")
			Expect(name).NotTo(ContainSubstring(","), "one Purge")
			Expect(string(body)).To(MatchJSON(strings.ReplaceAll(want.answer, "NAME", name)))
			p := s.purge(ctx, name)
			spec := want.spec
			spec.CacheProxyRef.Name = "edge"
			spec.DeadlineSeconds = 120
			Expect(p.Spec).To(Equal(spec))
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, string(want.source)))
			who := s.user("cms")
			if want.fromPod != "" {
				who = "unauthenticated " + s.ns + "/" + want.fromPod + "-0"
			}
			Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, who))
		})
	}
})

// readmeCurls are the curl commands of the README's section on the purge
// gateway: each line of a sh block that starts with "curl ", continuation
// lines joined.
func readmeCurls() []string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	Expect(err).NotTo(HaveOccurred())
	_, section, ok := strings.Cut(string(b), "\n## The purge gateway\n")
	Expect(ok).To(BeTrue(), "README.md has no section ## The purge gateway")
	section, _, _ = strings.Cut(section, "\n## ")
	var out []string
	for _, block := range strings.Split(section, "```sh\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		block = strings.ReplaceAll(block, "\\\n", " ")
		for _, line := range strings.Split(block, "\n") {
			line = strings.Join(strings.Fields(line), " ")
			if strings.HasPrefix(line, "curl ") {
				out = append(out, line)
			}
		}
	}
	return out
}

// readmeAddresses are the gateway's addresses in the README's commands:
// the edge-purge Service, the gateway's own Service, and a port-forward.
var readmeAddresses = []string{"edge-purge.web.svc:8090", "purge-operator-purge-gateway.purge-operator-system.svc:8090", "localhost:8090"}

// curlRequest is the request curl sends for command, moved to the test's
// gateway and site (see above). It knows the options the README uses:
// -X, -H and --json (which, as in curl, posts the data as
// application/json and accepts application/json).
func curlRequest(ctx context.Context, command string, s *site) (*http.Request, error) {
	words, err := shellWords(command, map[string]string{"TOKEN": s.token})
	if err != nil {
		return nil, err
	}
	method, target, body := "", "", ""
	header := http.Header{"Accept": {"*/*"}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") {
			if target != "" {
				return nil, fmt.Errorf("two URLs: %q and %q", target, w)
			}
			target = w
			continue
		}
		if i+1 == len(words) {
			return nil, fmt.Errorf("%s needs a value", w)
		}
		i++
		switch w {
		case "-X":
			method = words[i]
		case "-H":
			k, v, ok := strings.Cut(words[i], ":")
			if !ok {
				return nil, fmt.Errorf("header %q is not 'Name: value'", words[i])
			}
			header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		case "--json":
			body = words[i]
			header.Set("Content-Type", "application/json")
			header.Set("Accept", "application/json")
			if method == "" {
				method = http.MethodPost
			}
		default:
			return nil, fmt.Errorf("curl option %s: the README test does not know it", w)
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if !slices.Contains(readmeAddresses, host) {
		return nil, fmt.Errorf("%s is not one of the gateway's addresses in the README", host)
	}
	u.Path = strings.ReplaceAll(u.Path, "/web.edge/", "/"+s.id()+"/")
	req, err := http.NewRequestWithContext(ctx, method, gwURL+u.RequestURI(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Host = strings.Replace(host, ".web.svc", "."+s.ns+".svc", 1)
	for k, v := range header {
		if k == "Host" {
			req.Host = strings.Replace(v[0], ".web.svc", "."+s.ns+".svc", 1)
			continue
		}
		req.Header[k] = v
	}
	return req, nil
}

// shellWords splits a command line as sh does for the quoting the README
// uses: blanks separate words; '...' is literal; "..." expands $NAME from
// vars and keeps the rest; outside quotes a backslash quotes the next
// character. Any other $ is an error, so the README cannot use a variable
// the test does not set.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word is under way
	)
	expand := func(i int) (int, error) {
		j := i + 1
		for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z') {
			j++
		}
		v, ok := vars[line[i+1:j]]
		if !ok {
			return 0, fmt.Errorf("$%s: not a variable the README test sets", line[i+1:j])
		}
		cur.WriteString(v)
		return j - 1, nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if in {
				words, in = append(words, cur.String()), false
				cur.Reset()
			}
			continue
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			for i++; i < len(line) && line[i] != '"'; i++ {
				switch {
				case line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`, line[i+1]) >= 0:
					i++
					cur.WriteByte(line[i])
				case line[i] == '$':
					var err error
					if i, err = expand(i); err != nil {
						return nil, err
					}
				default:
					cur.WriteByte(line[i])
				}
			}
			if i == len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '$':
			var err error
			if i, err = expand(i); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
		in = true
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
