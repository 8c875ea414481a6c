package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("Waiting", func() {
	// finish writes what the Purge controller writes at the end.
	finish := func(ctx context.Context, s *site, name, condition string, invalidated int64) {
		p := s.purge(ctx, name)
		p.Status.ObjectsInvalidated = invalidated
		p.Status.Phase = cachev1alpha1.PurgePhase(condition)
		meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: condition, Status: metav1.ConditionTrue, Reason: "Test", Message: "test"})
		Expect(kube.Status().Update(ctx, p)).To(Succeed())
	}
	// waitFor sends a request that waits, and returns the answer once the
	// spec has finished its Purge as told.
	waitFor := func(ctx context.Context, s *site, send1 func() answer, condition string, invalidated int64) answer {
		answers := make(chan answer, 1)
		go func() {
			defer GinkgoRecover()
			answers <- send1()
		}()
		var name string
		Eventually(func(g Gomega) {
			all := s.purges(ctx)
			g.Expect(all).To(HaveLen(1))
			name = all[0].Name
		}).Should(Succeed())
		Consistently(answers, "100ms").ShouldNot(Receive(), "no answer before the Purge finishes")
		finish(ctx, s, name, condition, invalidated)
		var a answer
		Eventually(answers).Should(Receive(&a))
		return a
	}

	It("answers a Varnish client when its Purges complete, with the outcome", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := waitFor(ctx, s, func() answer {
			return send(ctx, gwURL, "PURGE", "/", s.purgeHost(), with(with(bearer(s.token), "xkey", "a"), "X-Purge-Wait", "20s"), "")
		}, cachev1alpha1.PurgeConditionComplete, 3)
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		Expect(a.body).To(MatchJSON(`{"purges":["` + s.purges(ctx)[0].Name + `"],"complete":true,"invalidated":3}`))
		Expect(a.header.Get("X-Purge-Complete")).To(Equal("true"))
	})

	It("answers a Cloudflare client with ?wait when its Purge completes", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := waitFor(ctx, s, func() answer {
			return send(ctx, gwURL, http.MethodPost, "/client/v4/zones/"+s.id()+"/purge_cache?wait=20s", "", bearer(s.token), `{"tags":["a"]}`)
		}, cachev1alpha1.PurgeConditionComplete, 2)
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var e struct {
			Result struct {
				Complete    bool
				Invalidated int64
			}
		}
		Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed())
		Expect(e.Result.Complete).To(BeTrue())
		Expect(e.Result.Invalidated).To(Equal(int64(2)))
	})

	It("answers 502 in the client's dialect when a Purge fails", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := waitFor(ctx, s, func() answer {
			return send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge/a?wait=20s", "", map[string]string{"Fastly-Key": s.token}, "")
		}, cachev1alpha1.PurgeConditionFailed, 0)
		Expect(a.status).To(Equal(http.StatusBadGateway), a.body)
		Expect(a.body).To(ContainSubstring("kubectl describe purge"))
	})

	It("answers when the wait ends, saying the Purges are not complete", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := send(ctx, gwURL, "PURGE", "/", s.purgeHost(), with(with(bearer(s.token), "xkey", "a"), "X-Purge-Wait", "50ms"), "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		Expect(a.body).To(ContainSubstring(`"complete":false`))
	})
})
