package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Requests as Cloudflare's purge_cache clients send them (its API
// documentation, FOSHttpCache's Cloudflare.php, Drupal's
// cloudflare_purge), with the zone ID replaced by <namespace>.<name>.
var _ = Describe("The Cloudflare dialect", func() {
	type envelope struct {
		Success bool
		Errors  []struct {
			Code    int
			Message string
		}
		Result struct {
			ID     string
			Purges []string
		}
	}
	purgeCache := func(ctx SpecContext, s *site, body string) (answer, envelope) {
		a := send(ctx, gwURL, http.MethodPost, "/client/v4/zones/"+s.id()+"/purge_cache", "",
			with(bearer(s.token), "Content-Type", "application/json"), body)
		var e envelope
		Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed(), a.body)
		return a, e
	}

	DescribeTable("turns each kind of item into the Purge it means",
		func(ctx SpecContext, body string, want cachev1alpha1.PurgeSpec) {
			s := newSite(ctx, "www.example.com", "example.com")
			a, e := purgeCache(ctx, s, body)
			Expect(a.status).To(Equal(http.StatusOK), a.body)
			Expect(e.Success).To(BeTrue())
			Expect(e.Errors).To(BeEmpty())
			Expect(a.body).To(ContainSubstring(`"errors":[],"messages":[]`))
			p := s.purge(ctx, e.Result.ID)
			want.CacheProxyRef.Name = "edge"
			want.DeadlineSeconds = 120
			Expect(p.Spec).To(Equal(want))
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, "cloudflare"))
			Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, s.user("cms")))
		},
		Entry("files as strings", `{"files":["https://www.example.com/a.js","https://example.com/b.css?v=2"]}`,
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/a.js", "https://example.com/b.css?v=2"}}),
		Entry("files as objects with headers", `{"files":[{"url":"https://www.example.com/a.js","headers":{"CF-IPCountry":"ES"}}]}`,
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/a.js"}}),
		Entry("tags", `{"tags":["product-42","category-7"]}`,
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"product-42", "category-7"}}),
		Entry("hosts, each banned whole", `{"hosts":["www.example.com"]}`,
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		Entry("prefixes, banned under https://", `{"prefixes":["www.example.com/foo","example.com/bar/"]}`,
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/foo", "https://example.com/bar/"}}),
		Entry("prefixes with dot segments, as the cache reads them", `{"prefixes":["www.example.com/a/../foo","example.com/bar/./"]}`,
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/foo", "https://example.com/bar/"}}),
		Entry("everything, as bans of every host", `{"purge_everything":true}`,
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/", "https://example.com/"}, ConfirmHostRootBan: true}),
	)

	DescribeTable("refuses bad requests in Cloudflare's shape and creates nothing",
		func(ctx SpecContext, body string, status int, msg string) {
			s := newSite(ctx, "www.example.com")
			a, e := purgeCache(ctx, s, body)
			Expect(a.status).To(Equal(status), a.body)
			Expect(e.Success).To(BeFalse())
			Expect(e.Errors).To(HaveLen(1))
			Expect(e.Errors[0].Code).To(Equal(status))
			Expect(e.Errors[0].Message).To(ContainSubstring(msg))
			Expect(s.purges(ctx)).To(BeEmpty())
		},
		Entry("nothing", `{}`, http.StatusBadRequest, "nothing to purge"),
		Entry("two kinds", `{"files":["https://www.example.com/a"],"tags":["t"]}`, http.StatusBadRequest, "only one of"),
		Entry("over 100 items", `{"tags":[`+quotedList(101)+`]}`, http.StatusBadRequest, "at most 100"),
		Entry("not JSON", `files=a`, http.StatusBadRequest, "not a JSON purge request"),
		Entry("a host the CacheProxy does not serve", `{"files":["https://other.example.org/a"]}`, http.StatusBadRequest, `host "other.example.org"`),
		Entry("a URL the API refuses", `{"files":["ftp://www.example.com/a"]}`, http.StatusBadRequest, "must be an absolute http:// or https:// URL"),
		Entry("a tag the API refuses", `{"tags":["two words"]}`, http.StatusBadRequest, "a tag must be non-empty and contain no spaces"),
		Entry("a prefix that is a host's root, unconfirmed", `{"prefixes":["www.example.com"]}`, http.StatusBadRequest, "confirmHostRootBan"),
		Entry("a prefix that resolves to a host's root, unconfirmed", `{"prefixes":["www.example.com/a/.."]}`, http.StatusBadRequest, "confirmHostRootBan"),
	)

	It("refuses purge_everything on a CacheProxy that lists no hosts", func(ctx SpecContext) {
		s := newSite(ctx)
		a, e := purgeCache(ctx, s, `{"purge_everything":true}`)
		Expect(a.status).To(Equal(http.StatusBadRequest))
		Expect(e.Errors[0].Message).To(ContainSubstring("lists no spec.hosts"))
	})

	It("answers 413 to a body over 1 MiB", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		big := make([]byte, 1<<20+1)
		for i := range big {
			big[i] = ' '
		}
		a, _ := purgeCache(ctx, s, string(big))
		Expect(a.status).To(Equal(http.StatusRequestEntityTooLarge))
	})
})

// quotedList is n distinct JSON strings, comma separated.
func quotedList(n int) string {
	data, _ := json.Marshal(keysList(n))
	return string(data[1 : len(data)-1])
}

func keysList(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "t" + string(rune('a'+i%26)) + strconv.Itoa(i)
	}
	return out
}
