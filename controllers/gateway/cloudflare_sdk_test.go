package gateway

import (
	"errors"

	"github.com/cloudflare/cloudflare-go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Cloudflare's own Go SDK, unchanged, with its base URL pointed at the
// gateway and a Kubernetes token as its API token.
var _ = Describe("The Cloudflare Go SDK", func() {
	DescribeTable("purges through the gateway",
		func(ctx SpecContext, req cloudflare.PurgeCacheRequest, want cachev1alpha1.PurgeSpec) {
			s := newSite(ctx, "www.example.com")
			api, err := cloudflare.NewWithAPIToken(s.token, cloudflare.BaseURL(gwURL+"/client/v4"))
			Expect(err).NotTo(HaveOccurred())
			res, err := api.PurgeCache(ctx, s.id(), req)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Success).To(BeTrue())
			p := s.purge(ctx, res.Result.ID)
			want.CacheProxyRef.Name = "edge"
			want.DeadlineSeconds = 120
			Expect(p.Spec).To(Equal(want))
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, "cloudflare"))
		},
		Entry("files", cloudflare.PurgeCacheRequest{Files: []string{"https://www.example.com/a.js"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", URLs: []string{"https://www.example.com/a.js"}}),
		Entry("tags", cloudflare.PurgeCacheRequest{Tags: []string{"product-42"}},
			cachev1alpha1.PurgeSpec{Mode: "simple", Tags: []string{"product-42"}}),
		Entry("hosts", cloudflare.PurgeCacheRequest{Hosts: []string{"www.example.com"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
		Entry("prefixes", cloudflare.PurgeCacheRequest{Prefixes: []string{"www.example.com/css/"}},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/css/"}}),
		Entry("everything", cloudflare.PurgeCacheRequest{Everything: true},
			cachev1alpha1.PurgeSpec{Mode: "ban", URLs: []string{"https://www.example.com/"}, ConfirmHostRootBan: true}),
	)

	It("reports the gateway's refusal as a Cloudflare error", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		api, err := cloudflare.NewWithAPIToken("garbage", cloudflare.BaseURL(gwURL+"/client/v4"))
		Expect(err).NotTo(HaveOccurred())
		_, err = api.PurgeCache(ctx, s.id(), cloudflare.PurgeCacheRequest{Tags: []string{"a"}})
		// The SDK calls a 401 an AuthorizationError.
		var authErr *cloudflare.AuthorizationError
		Expect(errors.As(err, &authErr)).To(BeTrue(), "%v", err)
		Expect(authErr.ErrorMessages()).To(ContainElement(ContainSubstring("the token was refused")))
		Expect(s.purges(ctx)).To(BeEmpty())
	})
})
