package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

var _ = Describe("Authentication and authorisation", func() {
	// cloudflare sends one purge of a file with the given headers.
	cloudflare := func(ctx context.Context, s *site, header map[string]string) answer {
		return send(ctx, gwURL, http.MethodPost, "/client/v4/zones/"+s.id()+"/purge_cache", "", header,
			`{"files":["https://www.example.com/a.js"]}`)
	}
	refused := func(ctx context.Context, s *site, a answer, status int, msg string) {
		Expect(a.status).To(Equal(status), a.body)
		Expect(a.body).To(ContainSubstring(msg))
		Expect(s.purges(ctx)).To(BeEmpty())
	}

	It("refuses a request without a token", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		refused(ctx, s, cloudflare(ctx, s, nil), http.StatusUnauthorized, "kubectl create token")
	})

	It("refuses a garbage token", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		refused(ctx, s, cloudflare(ctx, s, bearer("not-a-token")), http.StatusUnauthorized, "the token was refused")
		refused(ctx, s, send(ctx, gwURL, http.MethodPost, "/service/"+s.id()+"/purge/a", "", map[string]string{"Fastly-Key": "garbage"}, ""),
			http.StatusUnauthorized, "the token was refused")
	})

	It("refuses the token of a deleted ServiceAccount", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		token := s.serviceAccount(ctx, "gone", true)
		Expect(kube.Delete(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gone"}})).To(Succeed())
		// The API server checks the account through an informer, which
		// learns of the delete a moment later.
		Eventually(func(g Gomega) {
			review := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
			g.Expect(kube.Create(ctx, review)).To(Succeed())
			g.Expect(review.Status.Authenticated).To(BeFalse())
		}).WithContext(ctx).Should(Succeed())
		refused(ctx, s, cloudflare(ctx, s, bearer(token)), http.StatusUnauthorized, "the token was refused")
	})

	It("refuses a ServiceAccount without the right to create Purges", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		token := s.serviceAccount(ctx, "reader", false)
		refused(ctx, s, cloudflare(ctx, s, bearer(token)), http.StatusForbidden, s.user("reader")+" may not create purges in namespace "+s.ns)
	})

	It("lets a caller in within a second of its RoleBinding, though it was refused just before, and reuses an allowance for the review TTL", func(ctx SpecContext) {
		clk := clocktesting.NewFakeClock(time.Now())
		c, err := client.New(managerCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		r := newReviewer(c, clk, DefaultReviewTTL)
		s := newSite(ctx, "www.example.com")
		token := s.serviceAccount(ctx, "late", false)
		who, err := r.authenticate(ctx, token)
		Expect(err).NotTo(HaveOccurred())
		Expect(who).NotTo(BeNil())
		Expect(r.mayCreatePurges(ctx, who, s.ns)).To(BeFalse())

		s.grant(ctx, "late")
		Expect(r.mayCreatePurges(ctx, who, s.ns)).To(BeFalse(), "the refusal is reused within its second")
		clk.Step(deniedReviewTTL)
		Expect(r.mayCreatePurges(ctx, who, s.ns)).To(BeTrue())

		Expect(kube.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "late-purges"}})).To(Succeed())
		Eventually(func(g Gomega) {
			review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{User: who.user, Groups: who.groups,
				ResourceAttributes: &authzv1.ResourceAttributes{Namespace: s.ns, Verb: "create", Group: cachev1alpha1.GroupVersion.Group, Resource: "purges"}}}
			g.Expect(kube.Create(ctx, review)).To(Succeed())
			g.Expect(review.Status.Allowed).To(BeFalse())
		}).WithContext(ctx).Should(Succeed())
		clk.Step(DefaultReviewTTL - time.Millisecond)
		Expect(r.mayCreatePurges(ctx, who, s.ns)).To(BeTrue(), "an allowance is reused for the review TTL")
		clk.Step(time.Millisecond)
		Expect(r.mayCreatePurges(ctx, who, s.ns)).To(BeFalse())
	})

	It("refuses a ServiceAccount that may purge in another namespace only", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		elsewhere := newSite(ctx, "www.example.com")
		refused(ctx, s, cloudflare(ctx, s, bearer(elsewhere.token)), http.StatusForbidden, "may not create purges in namespace "+s.ns)
		// Found by Host, only the CacheProxies the caller may purge are
		// candidates: of all those serving www.example.com, its own.
		a := send(ctx, gwURL, "PURGE", "/a", "www.example.com", bearer(elsewhere.token), "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		Expect(elsewhere.purges(ctx)).To(HaveLen(1))
		Expect(s.purges(ctx)).To(BeEmpty())
	})

	It("records the ServiceAccount of a good token, which nobody else may write", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		a := cloudflare(ctx, s, bearer(s.token))
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var e struct{ Result struct{ ID string } }
		Expect(json.Unmarshal([]byte(a.body), &e)).To(Succeed())
		p := s.purge(ctx, e.Result.ID)
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, s.user("cms")))

		By("refusing a user's change of requested-by")
		p.Annotations[cachev1alpha1.AnnotationRequestedBy] = "someone-else"
		err := kube.Update(ctx, p)
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("only the purge-operator may set or change them"))

		By("letting users change other annotations")
		p = s.purge(ctx, e.Result.ID)
		p.Annotations["note"] = "checked"
		Expect(kube.Update(ctx, p)).To(Succeed())

		By("refusing a Purge applied with a forged requested-by")
		forged := &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "forged", Annotations: map[string]string{
				cachev1alpha1.AnnotationRequestedBy: "system:serviceaccount:web:trusted-cms"}},
			Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, URLs: []string{"https://www.example.com/a"}},
		}
		err = kube.Create(ctx, forged)
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("requested-by"))
		forged.Annotations = map[string]string{cachev1alpha1.AnnotationRequestedByGroups: "system:masters"}
		Expect(kube.Create(ctx, forged)).NotTo(Succeed())
		forged.Annotations = nil
		Expect(kube.Create(ctx, forged)).To(Succeed())
	})

	It("serves a request without a token from a pod the CacheProxy allows, and no other", func(ctx SpecContext) {
		s := newSite(ctx, "www.example.com")
		magento := sourcePod(ctx, s.ns, "magento-0", map[string]string{"app": "magento"})
		magentoPurge := func() answer {
			return send(ctx, gwURL, "PURGE", "/", s.purgeHost(),
				map[string]string{"X-Magento-Tags-Pattern": "((^|,)cat_p_1(,|$))"}, "")
		}
		refused(ctx, s, magentoPurge(), http.StatusUnauthorized, "no token")

		s.cp.Spec.PurgeGateway = &cachev1alpha1.PurgeGatewaySpec{AllowUnauthenticatedFrom: &cachev1alpha1.PurgeSourcePods{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}}}
		Expect(kube.Update(ctx, s.cp)).To(Succeed())
		s.seen(ctx)
		refused(ctx, s, magentoPurge(), http.StatusUnauthorized, "no token")

		s.cp.Spec.PurgeGateway.AllowUnauthenticatedFrom.PodSelector.MatchLabels["app"] = "magento"
		Expect(kube.Update(ctx, s.cp)).To(Succeed())
		s.seen(ctx)
		a := magentoPurge()
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		var got struct{ Purges []string }
		Expect(json.Unmarshal([]byte(a.body), &got)).To(Succeed())
		p := s.purge(ctx, got.Purges[0])
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, "unauthenticated "+s.ns+"/"+magento.Name))
		Expect(p.Spec.Tags).To(Equal([]string{"cat_p_1"}))
	})
})

// sourcePod makes the API server know a running pod whose IP is the
// address the specs send from (127.0.0.1), as a pod's own address is in a
// cluster. envtest has no kubelet: the spec writes the status itself.
func sourcePod(ctx context.Context, namespace, name string, labels map[string]string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "magento"}}},
	}
	Expect(kube.Create(ctx, pod)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(kube.Delete(ctx, pod)).To(Succeed()) })
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
	Expect(kube.Status().Update(ctx, pod)).To(Succeed())
	return pod
}
