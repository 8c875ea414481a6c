package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Requests as Fastly's API clients send them (fastly-js docs/PurgeApi.md,
// FOSHttpCache's Fastly.php, Shopware's FastlyReverseProxyGateway.php),
// with the service ID replaced by <namespace>.<name>.
var _ = Describe("The Fastly dialect", func() {
	It("purges one surrogate key, softly with Fastly-Soft-Purge: 1", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge/product-42", "",
			map[string]string{"Fastly-Key": s.token, "Accept": "application/json", "Fastly-Soft-Purge": "1"}, "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var got struct{ Status, ID string }
		Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
		Expect(got.Status).To(Equal("ok"))
		Expect(a.header.Get("X-Purge-Name")).To(Equal(got.ID))

		p := s.purge(ctx, got.ID)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.Tags).To(Equal([]string{"product-42"}))
		Expect(p.Spec.URLs).To(BeEmpty())
		Expect(p.Spec.CacheProxyRef.Name).To(Equal("edge"))
		Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, "fastly"))
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, s.user("cms")))
		Expect(p.Annotations[cachev1alpha1.AnnotationRequestedByGroups]).To(ContainSubstring("system:serviceaccounts:" + s.ns))
		Expect(p.Annotations[cachev1alpha1.AnnotationRequest]).To(Equal("fastly: POST /service/" + s.id() + "/purge/product-42 Fastly-Soft-Purge: 1"))
	})

	It("purges keys in bulk from Surrogate-Key or from JSON, answering each key's Purge", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		// Shopware: surrogate-key with space-separated keys.
		a := send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge", "",
			map[string]string{"Fastly-Key": s.token, "surrogate-key": "sw-product-1 sw-category-2", "fastly-soft-purge": "0"}, "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var byKey map[string]string
		Expect(json.Unmarshal([]byte(a.body), &byKey)).To(Succeed())
		Expect(byKey).To(HaveLen(2))
		p := s.purge(ctx, byKey["sw-product-1"])
		Expect(byKey["sw-category-2"]).To(Equal(p.Name))
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSimple))
		Expect(p.Spec.Tags).To(Equal([]string{"sw-product-1", "sw-category-2"}))

		// fastly-js bulkPurgeTag: {"surrogate_keys":[...]}.
		a = send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge", "",
			map[string]string{"Fastly-Key": s.token, "Content-Type": "application/json"}, `{"surrogate_keys":["a","b"]}`)
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		Expect(json.Unmarshal([]byte(a.body), &byKey)).To(Succeed())
		Expect(s.purge(ctx, byKey["a"]).Spec.Tags).To(Equal([]string{"a", "b"}))
	})

	It("purges everything as bans of every host, never softly", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com", "example.com")
		a := send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge_all", "",
			map[string]string{"Fastly-Key": s.token, "Fastly-Soft-Purge": "1"}, "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var got struct{ Status, ID string }
		Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
		p := s.purge(ctx, got.ID)
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeBan))
		Expect(p.Spec.ConfirmHostRootBan).To(BeTrue())
		Expect(p.Spec.URLs).To(ConsistOf("https://www.example.com/", "https://example.com/"))
	})

	It("purges one URL, named by host and path as fastly-js purgeSingleUrl and Shopware send it, from the CacheProxy serving its host", func(ctx SpecContext) {
		s := newSite(ctx, "shop.example.com")
		for _, tc := range []struct {
			path, soft string
			want       cachev1alpha1.PurgeSpec
		}{
			{"/purge/shop.example.com/products/1?page=2", "", cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://shop.example.com/products/1?page=2"}}},
			{"/purge/Shop.Example.com:443/img/a%20b.svg", "1", cachev1alpha1.PurgeSpec{Mode: "soft", URLs: []string{"https://shop.example.com/img/a%20b.svg"}}},
			{"/purge/https://shop.example.com/", "0", cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://shop.example.com/"}}},
		} {
			h := map[string]string{"Fastly-Key": s.token, "Accept": "application/json"}
			if tc.soft != "" {
				h["fastly-soft-purge"] = tc.soft
			}
			a := send(ctx, gwURL, http.MethodPost, tc.path, "", h, "")
			Expect(a.status).To(Equal(http.StatusOK), "%s: %s", tc.path, a.body)
			var got struct{ Status, ID string }
			Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
			Expect(got.Status).To(Equal("ok"))
			p := s.purge(ctx, got.ID)
			tc.want.CacheProxyRef.Name = "edge"
			tc.want.DeadlineSeconds = 120
			Expect(p.Spec).To(Equal(tc.want), tc.path)
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, "fastly"))
			Expect(p.Annotations[cachev1alpha1.AnnotationRequest]).To(HavePrefix("fastly: POST " + tc.path))
		}

		By("refusing a host no CacheProxy the caller may purge serves")
		a := send(ctx, gwURL, http.MethodPost, "/purge/elsewhere.example.org/a", "", map[string]string{"Fastly-Key": s.token}, "")
		Expect(a.status).To(Equal(http.StatusNotFound), a.body)
		Expect(a.body).To(ContainSubstring(`no CacheProxy you may purge serves host \"elsewhere.example.org\"`))
		By("never reading a URL's host as a <name>-purge Service")
		a = send(ctx, gwURL, http.MethodPost, "/purge/edge-purge."+s.ns+"/a", "", map[string]string{"Fastly-Key": s.token}, "")
		Expect(a.status).To(Equal(http.StatusNotFound), a.body)
		a = send(ctx, gwURL, http.MethodPost, "/purge/", "", map[string]string{"Fastly-Key": s.token}, "")
		Expect(a.status).To(Equal(http.StatusNotFound), a.body)
		Expect(a.body).To(ContainSubstring("no URL to purge at /purge/"))
		Expect(s.purges(ctx)).To(HaveLen(3))
	})

	It("refuses bad requests in Fastly's shape and creates nothing", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		h := map[string]string{"Fastly-Key": s.token}
		for _, tc := range []struct {
			method, path, body string
			header             map[string]string
			status             int
			msg                string
		}{
			{http.MethodGet, "/service/" + s.id() + "/purge/a", "", h, http.StatusMethodNotAllowed, "GET is not allowed"},
			{http.MethodGet, "/purge/www.example.com/a", "", h, http.StatusMethodNotAllowed, "GET is not allowed"},
			{http.MethodPost, "/service/" + s.id() + "/purge", "", h, http.StatusBadRequest, "no surrogate keys"},
			{http.MethodPost, "/service/" + s.id() + "/purge", "{", h, http.StatusBadRequest, "not JSON"},
			{http.MethodPost, "/service/" + s.id() + "/purge", "", with(h, "Surrogate-Key", manyKeys(257)), http.StatusBadRequest, "at most 256"},
			{http.MethodPost, "/service/" + s.id() + "/purge/bad,key", "", h, http.StatusBadRequest, "refused the Purge"},
			{http.MethodPost, "/service/" + s.id() + "/nothing", "", h, http.StatusNotFound, "no Fastly purge call"},
			{http.MethodPost, "/service/" + s.ns + ".nope/purge/a", "", h, http.StatusNotFound, "no CacheProxy nope"},
			{http.MethodPost, "/service/no-dot/purge/a", "", h, http.StatusNotFound, "does not name a CacheProxy"},
			{http.MethodPost, "/service/" + s.id() + "/purge/a?wait=soon", "", h, http.StatusBadRequest, "not a duration"},
		} {
			a := send(ctx, gwURL, tc.method, tc.path, "", tc.header, tc.body)
			Expect(a.status).To(Equal(tc.status), "%s %s: %s", tc.method, tc.path, a.body)
			var e struct{ Msg, Detail string }
			Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed(), a.body)
			Expect(e.Msg+": "+e.Detail).To(ContainSubstring(tc.msg), "%s %s", tc.method, tc.path)
			if tc.status == http.StatusMethodNotAllowed {
				Expect(a.header.Get("Allow")).To(Equal("POST"))
			}
		}
		Expect(s.purges(ctx)).To(BeEmpty())
	})
})

// manyKeys is n distinct keys, space separated.
func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	return strings.Join(keys, " ")
}
