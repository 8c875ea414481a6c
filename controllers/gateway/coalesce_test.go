package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("Coalescing", func() {
	var (
		clk     *clocktesting.FakeClock
		g       *Gateway
		url     string
		mu      sync.Mutex
		reviews map[string]int
	)
	BeforeEach(func() {
		clk = clocktesting.NewFakeClock(time.Now())
		reviews = map[string]int{}
		// The manager's identity, uncached, counting the reviews it asks for.
		c, err := client.NewWithWatch(managerCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		counting := interceptor.NewClient(c, interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				mu.Lock()
				switch obj.(type) {
				case *authnv1.TokenReview:
					reviews["token"]++
				case *authzv1.SubjectAccessReview:
					reviews["access"]++
				case *cachev1alpha1.Purge:
					co := &client.CreateOptions{}
					co.ApplyOptions(opts)
					if len(co.DryRun) > 0 {
						reviews["dry run"]++
					} else {
						reviews["purge"]++
					}
				}
				mu.Unlock()
				return c.Create(ctx, obj, opts...)
			},
		})
		g = New(counting, c, Options{Clock: clk})
		srv := httptest.NewServer(g)
		DeferCleanup(srv.Close)
		url = srv.URL
	})

	// burst sends n requests at once; each waits in the window until the
	// spec moves the clock.
	burst := func(ctx context.Context, n int, send1 func(i int) answer) []answer {
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				answers[i] = send1(i)
			}()
		}
		Eventually(g.batches.waiting).Should(Equal(n), "every request joined the window")
		clk.Step(DefaultCoalesceWindow)
		wg.Wait()
		return answers
	}

	It("turns a cold burst of 20 requests within the window into one Purge, with one review of each kind and one create", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		answers := burst(ctx, 20, func(i int) answer {
			return send(ctx, url, "PURGE", "/", s.purgeHost(), with(bearer(s.token),
				"X-Magento-Tags-Pattern", fmt.Sprintf("((^|,)cat_p_%d(,|$))", i)), "")
		})
		var name string
		for _, a := range answers {
			Expect(a.status).To(Equal(200), a.body)
			var got struct{ Purges []string }
			Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
			Expect(got.Purges).To(HaveLen(1))
			if name == "" {
				name = got.Purges[0]
			}
			Expect(got.Purges[0]).To(Equal(name), "every answer names the one Purge")
		}
		Expect(s.purges(ctx)).To(HaveLen(1))
		p := s.purge(ctx, name)
		Expect(p.Spec.Tags).To(HaveLen(20))
		Expect(p.Spec.Tags).To(ContainElements("cat_p_0", "cat_p_19"))
		Expect(strings.Count(p.Annotations[cachev1alpha1.AnnotationRequest], "\n")).To(Equal(19), "one request line each")
		Expect(reviews).To(Equal(map[string]int{"token": 1, "access": 1, "purge": 1}), "no dry run: the API server judged the batch once, as it created it")
	})

	It("answers a request the API server refuses with its message, and still creates the Purge of the others", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		answers := burst(ctx, 3, func(i int) answer {
			tag := fmt.Sprintf("good-%d", i)
			if i == 1 {
				tag = strings.Repeat("x", 300)
			}
			return send(ctx, url, "PURGE", "/", s.purgeHost(), with(bearer(s.token), "xkey", tag), "")
		})
		Expect(answers[1].status).To(Equal(400), answers[1].body)
		Expect(answers[1].body).To(ContainSubstring("the Kubernetes API server refused the Purge"))
		Expect(answers[1].body).To(ContainSubstring("256"))
		Expect(answers[1].header.Get("X-Purge-Name")).To(BeEmpty())
		Expect(answers[0].status).To(Equal(200), answers[0].body)
		Expect(answers[2].status).To(Equal(200), answers[2].body)
		name := answers[0].header.Get("X-Purge-Name")
		Expect(answers[2].header.Get("X-Purge-Name")).To(Equal(name))

		all := s.purges(ctx)
		Expect(all).To(HaveLen(1))
		Expect(all[0].Name).To(Equal(name))
		Expect(all[0].Spec.Tags).To(ConsistOf("good-0", "good-2"))
		Expect(all[0].Annotations[cachev1alpha1.AnnotationRequest]).NotTo(ContainSubstring("xxx"), "the refused request is not recorded")
		Expect(reviews).To(HaveKeyWithValue("dry run", 3), "each request asked about alone once the batch was refused")
		Expect(reviews).To(HaveKeyWithValue("purge", 2), "the refused batch, then the accepted one")
	})

	It("keeps requests of different modes apart", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		answers := burst(ctx, 2, func(i int) answer {
			h := with(bearer(s.token), "xkey-purge", "a")
			if i == 1 {
				h = with(bearer(s.token), "xkey-softpurge", "a")
			}
			return send(ctx, url, "PURGEKEYS", "/", s.purgeHost(), h, "")
		})
		Expect(answers[0].status).To(Equal(200))
		Expect(answers[1].status).To(Equal(200))
		Expect(answers[0].header.Get("X-Purge-Name")).NotTo(Equal(answers[1].header.Get("X-Purge-Name")))
		Expect(s.purges(ctx)).To(HaveLen(2))
	})

	It("splits what exceeds the API's bounds over several Purges and names them all", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		tags := make([]string, 300)
		for i := range tags {
			tags[i] = fmt.Sprintf("t%d", i)
		}
		answers := burst(ctx, 2, func(i int) answer {
			return send(ctx, url, "PURGE", "/", s.purgeHost(), with(bearer(s.token), "xkey", strings.Join(tags[i*150:(i+1)*150], " ")), "")
		})
		all := s.purges(ctx)
		Expect(all).To(HaveLen(2))
		sizes := []int{len(all[0].Spec.Tags), len(all[1].Spec.Tags)}
		Expect(sizes).To(ConsistOf(256, 44))
		var first, second struct{ Purges []string }
		Expect(json.Unmarshal([]byte(answers[0].body), &first)).To(Succeed())
		Expect(json.Unmarshal([]byte(answers[1].body), &second)).To(Succeed())
		// The first 256 tags (of both requests, in arrival order) share a
		// Purge; whichever request came second spills over into the next.
		Expect(len(first.Purges) + len(second.Purges)).To(Equal(3))
	})
})
