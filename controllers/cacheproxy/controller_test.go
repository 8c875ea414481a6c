package cacheproxy_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/cacheproxy"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

var _ = Describe("The CacheProxy controller", func() {
	var (
		cp  *cachev1alpha1.CacheProxy
		key client.ObjectKey
	)
	BeforeEach(func(ctx SpecContext) {
		cp = &cachev1alpha1.CacheProxy{
			ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: newNamespace(ctx)},
			Spec: cachev1alpha1.CacheProxySpec{
				Replicas: ptr.To[int32](3),
				Origin:   cachev1alpha1.OriginSpec{URL: "http://web.web.svc:8080"},
				Hosts:    []string{"www.example.com"},
			},
		}
		Expect(k8sClient.Create(ctx, cp)).To(Succeed())
		key = client.ObjectKeyFromObject(cp)
	})

	deployment := func(ctx SpecContext) *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Eventually(func() error { return k8sClient.Get(ctx, key, d) }).Should(Succeed())
		return d
	}
	owned := func(o client.Object) {
		GinkgoHelper()
		refs := o.GetOwnerReferences()
		Expect(refs).To(HaveLen(1))
		Expect(refs[0].UID).To(Equal(cp.UID))
		Expect(ptr.Deref(refs[0].Controller, false)).To(BeTrue())
	}

	It("creates a Deployment, a Service and a token Secret it owns", func(ctx SpecContext) {
		d := deployment(ctx)
		owned(d)
		Expect(*d.Spec.Replicas).To(Equal(int32(3)))
		c := d.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal("ghcr.io/cacheops/cacheproxy:test"))
		Expect(c.Args).To(ContainElements("--origin=http://web.web.svc:8080", "--host=www.example.com"))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))

		var svc corev1.Service
		Expect(k8sClient.Get(ctx, key, &svc)).To(Succeed())
		owned(&svc)
		Expect(svc.Spec.Ports).To(HaveLen(1), "the admin port is never on the Service")
		Expect(svc.Spec.Ports[0].Port).To(Equal(int32(8080)))

		var secret corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: cp.Namespace, Name: fleet.TokenSecretName(cp.Name)}, &secret)).To(Succeed())
		owned(&secret)
		Expect(secret.Data[fleet.TokenKey]).To(HaveLen(43), "32 random bytes, base64url")
	})

	It("points <name>-purge at the purge gateway while spec.purgeGateway.enabled, and removes it after", func(ctx SpecContext) {
		purgeKey := client.ObjectKey{Namespace: cp.Namespace, Name: "edge-purge"}
		deployment(ctx)
		Expect(k8sClient.Get(ctx, purgeKey, &corev1.Service{})).NotTo(Succeed(), "not asked for")

		update(ctx, cp, func() { cp.Spec.PurgeGateway = &cachev1alpha1.PurgeGatewaySpec{Enabled: true} })
		var svc corev1.Service
		Eventually(func() error { return k8sClient.Get(ctx, purgeKey, &svc) }).Should(Succeed())
		owned(&svc)
		Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeExternalName))
		Expect(svc.Spec.ExternalName).To(Equal(testGatewayHost))

		update(ctx, cp, func() { cp.Spec.PurgeGateway.Enabled = false })
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, purgeKey, &corev1.Service{})) }).Should(BeTrue())
	})

	It("rolls the pods on a spec change and keeps the token", func(ctx SpecContext) {
		before := deployment(ctx)
		token := adminToken(ctx, cp)
		hash := before.Spec.Template.Annotations[cacheproxy.AnnotationConfigHash]
		Expect(hash).NotTo(BeEmpty())

		update(ctx, cp, func() { cp.Spec.Origin.URL = "http://web-v2.web.svc:8080" })
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
			g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--origin=http://web-v2.web.svc:8080"))
			g.Expect(d.Spec.Template.Annotations[cacheproxy.AnnotationConfigHash]).NotTo(Equal(hash))
		}).Should(Succeed())
		Expect(adminToken(ctx, cp)).To(Equal(token), "the token is never overwritten")
	})

	It("creates a new token when its Secret is deleted, without rolling the pods (they re-read the mounted file)", func(ctx SpecContext) {
		hash := deployment(ctx).Spec.Template.Annotations[cacheproxy.AnnotationConfigHash]
		old := adminToken(ctx, cp)
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fleet.TokenSecretName(cp.Name), Namespace: cp.Namespace}})).To(Succeed())
		// A spec change wakes the controller: it does not watch Secrets
		// (it may not list them).
		update(ctx, cp, func() { cp.Spec.Replicas = ptr.To[int32](2) })
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
			g.Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
		}).Should(Succeed())
		Expect(adminToken(ctx, cp)).NotTo(Equal(old))
		Expect(deployment(ctx).Spec.Template.Annotations[cacheproxy.AnnotationConfigHash]).To(Equal(hash), "the pod template is unchanged")
	})

	It("reports the Deployment's state in its status", func(ctx SpecContext) {
		d := deployment(ctx)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, cp)).To(Succeed())
			g.Expect(cp.Status.Selector).To(Equal("app.kubernetes.io/instance=edge,app.kubernetes.io/name=cacheproxy,cache.cacheops.io/cacheproxy=edge"))
			g.Expect(meta.FindStatusCondition(cp.Status.Conditions, cachev1alpha1.CacheProxyConditionAvailable)).NotTo(BeNil())
		}).Should(Succeed())
		Expect(meta.IsStatusConditionTrue(cp.Status.Conditions, cachev1alpha1.CacheProxyConditionAvailable)).To(BeFalse())

		// Play the deployment controller: two of three pods are ready.
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			}},
		}
		Expect(k8sClient.Status().Update(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, cp)).To(Succeed())
			g.Expect(cp.Status.Replicas).To(Equal(int32(3)))
			g.Expect(cp.Status.ReadyReplicas).To(Equal(int32(2)))
			g.Expect(cp.Status.ObservedGeneration).To(Equal(cp.Generation))
			c := meta.FindStatusCondition(cp.Status.Conditions, cachev1alpha1.CacheProxyConditionAvailable)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(Equal("2 of 3 pods ready"))
		}).Should(Succeed())
	})

	It("scales through the scale subresource, as kubectl scale and HPAs do", func(ctx SpecContext) {
		deployment(ctx)
		// As kubectl scale does: read the Scale, write it back, again on a
		// conflict with the controller's status writes.
		Eventually(func(g Gomega) {
			scale := &autoscalingv1.Scale{}
			g.Expect(k8sClient.SubResource("scale").Get(ctx, cp, scale)).To(Succeed())
			g.Expect(scale.Spec.Replicas).To(Equal(int32(3)))
			scale.Spec.Replicas = 5
			g.Expect(k8sClient.SubResource("scale").Update(ctx, cp, client.WithSubResourceBody(scale))).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
			g.Expect(*d.Spec.Replicas).To(Equal(int32(5)))
		}).Should(Succeed())
	})

	It("puts back a Deployment edited by hand", func(ctx SpecContext) {
		d := deployment(ctx)
		update(ctx, d, func() { d.Spec.Template.Spec.Containers[0].Image = "evil/image:latest" })
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
			g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal("ghcr.io/cacheops/cacheproxy:test"))
		}).Should(Succeed())
	})
})

// update applies mutate to the latest version of obj and writes it,
// again on conflicts with the controller's own writes.
func update(ctx context.Context, obj client.Object, mutate func()) {
	GinkgoHelper()
	Eventually(func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return k8sClient.Update(ctx, obj)
	}).Should(Succeed())
}
