package gateway

import (
	"encoding/json"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Each entry is a request as one client's source builds it
// (shared/research/invalidation-wire-formats.md names the files): method,
// path, Host and headers, sent to the gateway unchanged but for the token
// every client can be told to send.
var _ = Describe("The Varnish dialects", func() {
	// toGateway is the Host of a client configured with the CacheProxy's
	// <name>-purge Service as its Varnish server; toSite is a client that
	// sends the site's own Host.
	const (
		toGateway = "gateway"
		toSite    = "www.example.com"
	)
	type request struct {
		method, path, host string
		header             map[string]string
	}

	DescribeTable("turn each client's request into the Purge it means",
		func(ctx SpecContext, r request, want cachev1alpha1.PurgeSpec) {
			s := newSite(ctx, "www.example.com")
			host := r.host
			if host == toGateway {
				host = s.purgeHost()
			}
			a := send(ctx, gwURL, r.method, r.path, host, with(r.header, "Authorization", "Bearer "+s.token), "")
			Expect(a.status).To(Equal(http.StatusOK), a.body)
			Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
			var got struct{ Purges []string }
			Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
			Expect(got.Purges).To(HaveLen(1))
			Expect(a.header.Get("X-Purge-Name")).To(Equal(got.Purges[0]))
			p := s.purge(ctx, got.Purges[0])
			want.CacheProxyRef.Name = "edge"
			want.DeadlineSeconds = 120
			Expect(p.Spec).To(Equal(want))
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, "varnish"))
			Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, s.user("cms")))
			Expect(p.Annotations[cachev1alpha1.AnnotationRequest]).To(HavePrefix("varnish: " + r.method + " "))
		},
		// Magento 2 core (PurgeCache.php, InvalidateVarnishObserver.php):
		// PURGE / to each http-cache-host, one ((^|,)TAG(,|$)) per tag.
		Entry("Magento: tags", request{"PURGE", "/", toGateway, map[string]string{
			"X-Magento-Tags-Pattern": `((^|,)cat_p_1(,|$))|((^|,)cat_c_2(,|$))`}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"cat_p_1", "cat_c_2"}}),
		// elgentos/magento2-varnish-extended: X-Magento-Purge-Soft.
		Entry("Magento: soft tags", request{"PURGE", "/", toGateway, map[string]string{
			"X-Magento-Tags-Pattern": `((^|,)cat_p_1(,|$))`, "X-Magento-Purge-Soft": "1"}},
			cachev1alpha1.PurgeSpec{Mode: "soft", Tags: []string{"cat_p_1"}}),
		// FlushAllCacheObserver.php.
		Entry("Magento: flush all", request{"PURGE", "/", toGateway, map[string]string{"X-Magento-Tags-Pattern": ".*"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		// Drupal varnish_purger, bundled, as Lagoon configures it.
		Entry("Drupal: Cache-Tags", request{"BAN", "/", toGateway, map[string]string{
			"Cache-Tags": "node:1|node_list|config:system.menu.main"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"node:1", "node_list", "config:system.menu.main"}}),
		// Drupal as Thunder documents it.
		Entry("Drupal: Purge-Cache-Tags", request{"BAN", "/", toGateway, map[string]string{"Purge-Cache-Tags": "node:7|taxonomy_term:3"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"node:7", "taxonomy_term:3"}}),
		// WordPress Proxy Cache Purge 5.2.0 purge_url(): PURGE to the
		// Varnish IP with the site's host.
		Entry("WordPress: one URL", request{"PURGE", "/2026/12/hello-world/", "www.example.com:80", map[string]string{"X-Purge-Method": "default"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/2026/12/hello-world/"}}),
		Entry("WordPress: purge all", request{"PURGE", "/.*", toSite, map[string]string{"X-Purge-Method": "regex"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		// Proxy Cache Purge 5.4+ purge_tags(), Cache Tags mode: PURGE / with
		// the tags joined by "|" (its responses carry X-Cache-Tags: a,b).
		Entry("WordPress: tags", request{"PURGE", "/", toSite, map[string]string{"X-Purge-Method": "tags", "X-Cache-Tags-Pattern": "p-42|feed"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"p-42", "feed"}}),
		// FOSHttpCache Varnish.php: PURGE <url>, the query included.
		Entry("FOSHttpCache: purge a URL", request{"PURGE", "/users?page=2", toSite, nil},
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/users?page=2"}}),
		Entry("FOSHttpCache: ban by tags", request{"BAN", "/", toGateway, map[string]string{
			"X-Cache-Tags": `(^|,)(news\-123|user\-7)(,|$)`, "X-Host": ".*", "X-Url": ".*", "X-Content-Type": ".*"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"news-123", "user-7"}}),
		Entry("FOSHttpCache: ban a path prefix", request{"BAN", "/", toGateway, map[string]string{
			"X-Host": `^(www\.example\.com)$`, "X-Url": "^/news/", "X-Content-Type": ".*"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/news/"}}),
		Entry("FOSHttpCache: ban a whole host", request{"BAN", "/", toGateway, map[string]string{"X-Host": ".*", "X-Url": ".*"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		Entry("FOSHttpCache: xkey soft purge", request{"PURGEKEYS", "/", toGateway, map[string]string{"xkey-softpurge": "a b"}},
			cachev1alpha1.PurgeSpec{Mode: "soft", Tags: []string{"a", "b"}}),
		Entry("FOSHttpCache: xkey purge", request{"PURGEKEYS", "/", toGateway, map[string]string{"xkey-purge": "a b"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"a", "b"}}),
		// API Platform VarnishPurger.php, VarnishXKeyPurger.php, SouinPurger.php.
		Entry("API Platform: ban regex", request{"BAN", "/", toGateway, map[string]string{"ApiPlatform-Ban-Regex": `(/books/1|/books)($|\,)`}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"/books/1", "/books"}}),
		Entry("API Platform: xkey", request{"PURGE", "/", toGateway, map[string]string{"xkey": "/books/1 /books"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"/books/1", "/books"}}),
		Entry("API Platform: Souin", request{"PURGE", "/", toGateway, map[string]string{"Surrogate-Key": "/books/1, /books"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"/books/1", "/books"}}),
		// A purge at Fastly's edge: PURGE of the URL, soft with
		// Fastly-Soft-Purge: 1.
		Entry("Fastly edge: a soft URL purge", request{"PURGE", "/products/1", toSite, map[string]string{"Fastly-Soft-Purge": "1"}},
			cachev1alpha1.PurgeSpec{Mode: "soft", URLs: []string{"https://www.example.com/products/1"}}),
		// Shopware VarnishReverseProxyGateway.php.
		Entry("Shopware: tags", request{"PURGE", "/", toGateway, map[string]string{"xkey": "product-1 category-2"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"product-1", "category-2"}}),
		Entry("Shopware: a URL", request{"PURGE", "/detail/0191", toSite, nil},
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/detail/0191"}}),
		Entry("Shopware: ban all", request{"BAN", "/", toSite, nil},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		// The API refuses a ban pattern with dot or empty segments; the
		// gateway sends the path the cache would read.
		Entry("a ban path with dot segments, resolved", request{"BAN", "/news/./2026//", toSite, nil},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/news/2026/"}}),
		Entry("a ban path that resolves to the root, as BAN /", request{"BAN", "/news/%2E%2E/", toSite, nil},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		Entry("an X-Url with dot segments, resolved", request{"BAN", "/", toGateway, map[string]string{
			"X-Host": `^(www\.example\.com)$`, "X-Url": "^/news/../blog/"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/blog/"}}),
		// TYPO3 netlogix/nxvarnish VarnishService.php and VarnishBackend.php:
		// BAN of varnishHost, one tag a request, in ;tag; (preg_quoted), a
		// record's tag in ;table{[0-9,]*,uid,[0-9,]*};, .* for a flush.
		Entry("TYPO3 nxvarnish: a tag", request{"BAN", "/", toGateway, map[string]string{"X-Cache-Tags": ";pageId_42;"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"pageId_42"}}),
		Entry("TYPO3 nxvarnish: a record", request{"BAN", "/", toGateway, map[string]string{"X-Cache-Tags": ";tt_content{[0-9,]*,42,[0-9,]*};"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"tt_content_42"}}),
		Entry("TYPO3 nxvarnish: a flush", request{"BAN", "/", toGateway, map[string]string{"X-Cache-Tags": ".*"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		// A plain tag in X-Cache-Tags, as hand-written clients send it.
		Entry("X-Cache-Tags: a plain tag", request{"BAN", "/", toGateway, map[string]string{"X-Cache-Tags": "pageId_42"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"pageId_42"}}),
		// TYPO3 mittwald/typo3-varnishcache: X-Host a plain domain.
		// TYPO3 mittwald/typo3-varnishcache VarnishCacheService.php: BAN of
		// <server>:<port>/<page path> with X-Host, the domain record, and
		// X-Url, the page's path, which its VCL matches as a regex.
		Entry("TYPO3 varnishcache: a page", request{"BAN", "/news/my-article.html", toGateway, map[string]string{
			"X-Host": "www.example.com", "X-Url": "/news/my-article.html"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/news/my-article.html"}}),
		Entry("TYPO3 varnishcache: the root page", request{"BAN", "/", toGateway, map[string]string{"X-Host": "www.example.com", "X-Url": "/"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
	)

	DescribeTable("refuse what they cannot do with a clear 4xx and create nothing",
		func(ctx SpecContext, r request, status int, msg string) {
			s := newSite(ctx, "www.example.com", "example.com")
			host := r.host
			if host == toGateway {
				host = s.purgeHost()
			}
			a := send(ctx, gwURL, r.method, r.path, host, with(r.header, "Authorization", "Bearer "+s.token), "")
			Expect(a.status).To(Equal(status), a.body)
			var e struct{ Error, Detail string }
			Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed(), a.body)
			Expect(e.Error + ": " + e.Detail).To(ContainSubstring(msg))
			if status == http.StatusMethodNotAllowed {
				Expect(a.header.Get("Allow")).To(Equal("PURGE, BAN, PURGEKEYS"))
			}
			Expect(s.purges(ctx)).To(BeEmpty())
		},
		Entry("an unknown method", request{"GET", "/", toGateway, nil}, http.StatusMethodNotAllowed, "does not serve GET"),
		Entry("a regex X-Url", request{"BAN", "/", toGateway, map[string]string{"X-Host": ".*", "X-Url": ".*css$"}}, http.StatusBadRequest, "regex the gateway does not run"),
		Entry("a content-type ban", request{"BAN", "/", toGateway, map[string]string{"X-Url": ".*", "X-Host": ".*", "X-Content-Type": "image/png"}}, http.StatusBadRequest, "content type"),
		Entry("PURGEKEYS without keys", request{"PURGEKEYS", "/", toGateway, nil}, http.StatusBadRequest, "PURGEKEYS needs"),
		Entry("a regex tag pattern", request{"PURGE", "/", toGateway, map[string]string{"X-Magento-Tags-Pattern": "cat_.*"}}, http.StatusBadRequest, "X-Magento-Tags-Pattern"),
		Entry("an empty tag header", request{"PURGE", "/", toGateway, map[string]string{"xkey": " "}}, http.StatusBadRequest, "xkey lists no tag"),
		Entry("a URL without a site", request{"PURGE", "/a", toGateway, nil}, http.StatusBadRequest, "which site?"),
		Entry("a host the CacheProxy does not serve", request{"PURGE", "/a", toGateway, map[string]string{"X-Host": "other.example.org"}}, http.StatusBadRequest, `host "other.example.org"`),
		Entry("a Host no CacheProxy serves", request{"PURGE", "/a", "nowhere.example.org", nil}, http.StatusNotFound, "no CacheProxy you may purge serves host"),
		Entry("a tag the API refuses", request{"PURGE", "/", toGateway, map[string]string{"xkey": strings.Repeat("x", 300)}}, http.StatusBadRequest, "256"),
	)

	It("answer 409 naming the CacheProxies when several serve the Host", func(ctx SpecContext) {
		s := newSite(ctx, "shared.example.com")
		other := &cachev1alpha1.CacheProxy{}
		other.Namespace, other.Name = s.ns, "edge2"
		other.Spec.Origin.URL = "http://web:8080"
		other.Spec.Hosts = []string{"shared.example.com"}
		Expect(kube.Create(ctx, other)).To(Succeed())
		// Wait until the gateway's cache holds edge2 with a request that
		// names it and that it refuses, so that no Purge is created while
		// edge is still the only CacheProxy serving the Host.
		Eventually(func(g Gomega) {
			a := send(ctx, gwURL, "PURGE", "/a", "edge2-purge."+s.ns+".svc:8090",
				with(bearer(s.token), "X-Host", "other.example.org"), "")
			g.Expect(a.status).To(Equal(http.StatusBadRequest), a.body)
		}).Should(Succeed())
		a := send(ctx, gwURL, "PURGE", "/a", "shared.example.com", bearer(s.token), "")
		Expect(a.status).To(Equal(http.StatusConflict), a.body)
		Expect(a.body).To(ContainSubstring(s.ns + "/edge, " + s.ns + "/edge2"))
		Expect(s.purges(ctx)).To(BeEmpty())
	})

	It("answer 431 to headers over 64 KiB", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := send(ctx, gwURL, "PURGE", "/", s.purgeHost(), with(bearer(s.token), "xkey", strings.Repeat("tag ", 20<<10)), "")
		Expect(a.status).To(Equal(http.StatusRequestHeaderFieldsTooLarge))
		Expect(s.purges(ctx)).To(BeEmpty())
	})
})
