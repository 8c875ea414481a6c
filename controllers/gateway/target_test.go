package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("Finding the CacheProxy", func() {
	// A gateway whose cache does not hold any CacheProxy yet, as in the
	// moment after one is created, and whose live reads of CacheProxies
	// are counted.
	var (
		url       string
		liveReads atomic.Int32
	)
	BeforeEach(func() {
		c, err := client.NewWithWatch(managerCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		behind := interceptor.NewClient(c, interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*cachev1alpha1.CacheProxy); ok {
					return apierrors.NewNotFound(cachev1alpha1.GroupVersion.WithResource("cacheproxies").GroupResource(), key.Name)
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
		liveReads.Store(0)
		live := interceptor.NewClient(c, interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*cachev1alpha1.CacheProxy); ok {
					liveReads.Add(1)
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
		srv := httptest.NewServer(New(behind, live, Options{CoalesceWindow: -1}))
		DeferCleanup(srv.Close)
		url = srv.URL
	})

	It("purges a CacheProxy named in the path that the cache does not hold yet, reading it from the API server", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := send(ctx, url, http.MethodPost, "/client/v4/zones/"+s.id()+"/purge_cache", "",
			with(bearer(s.token), "Content-Type", "application/json"), `{"files":["https://www.example.com/a.js"]}`)
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var e struct{ Result struct{ ID string } }
		Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed())
		Expect(s.purge(ctx, e.Result.ID).Spec.URLs).To(Equal([]string{"https://www.example.com/a.js"}))
		Expect(liveReads.Load()).To(BeEquivalentTo(1))
	})

	It("reads nothing live for a caller who may not purge there, or has no token", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		reader := s.serviceAccount(ctx, "reader", false)
		a := send(ctx, url, "PURGE", "/a", "edge-purge."+s.ns+".svc", bearer(reader), "")
		Expect(a.status).To(Equal(http.StatusForbidden), a.body)
		a = send(ctx, url, "PURGE", "/a", "edge-purge."+s.ns+".svc", nil, "")
		Expect(a.status).To(Equal(http.StatusUnauthorized), a.body)
		Expect(liveReads.Load()).To(BeZero())
		Expect(s.purges(ctx)).To(BeEmpty())
	})

	It("answers 404 for a CacheProxy the API server does not have either", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := send(ctx, url, "PURGE", "/a", "absent-purge."+s.ns+".svc", bearer(s.token), "")
		Expect(a.status).To(Equal(http.StatusNotFound), a.body)
		Expect(a.body).To(ContainSubstring("no CacheProxy absent in namespace " + s.ns))
		Expect(s.purges(ctx)).To(BeEmpty())
	})
})
