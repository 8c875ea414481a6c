package purgetrigger_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The README's three ways to purge after a deploy, applied from their
// files as the tool in charge would apply them. Argo CD and Flux are not
// installed: the specs apply the objects they would apply, the way they
// would, and run Argo CD's health check with the Lua interpreter Argo CD
// embeds (gopher-lua).

var samples = filepath.Join("..", "..", "config", "samples")

// manifests reads the YAML documents of a file under config/samples.
func manifests(name string) []*unstructured.Unstructured {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(samples, name))
	Expect(err).NotTo(HaveOccurred())
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		u := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed(), name)
		out = append(out, u)
	}
	return out
}

// onlyManifest reads a file holding one object, placed in namespace ns.
func onlyManifest(name, ns string) *unstructured.Unstructured {
	GinkgoHelper()
	docs := manifests(name)
	Expect(docs).To(HaveLen(1), name)
	docs[0].SetNamespace(ns)
	return docs[0]
}

var _ = Describe("The README's recipes for purging after a deploy", func() {
	It("PurgeTrigger: purges after the Deployment's next rollout, with the sample's template", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		web := newDeployment(ctx, ns, "web", 2)
		u := onlyManifest("cache_v1alpha1_purgetrigger.yaml", ns)
		Expect(k8sClient.Create(ctx, u)).To(Succeed(), "kubectl apply -f config/samples/cache_v1alpha1_purgetrigger.yaml")
		t := &cachev1alpha1.PurgeTrigger{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t)).To(Succeed())
		triggerState(ctx, t, "1")

		web.deploy(ctx, "web:v2", 2)
		noPurgeFor(ctx, t, 500*time.Millisecond, 0)
		web.complete(ctx)
		p := onePurgeOf(ctx, t, "2")
		Expect(p.Spec.CacheProxyRef.Name).To(Equal("edge"))
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeBan))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/"}))
		Expect(p.Spec.ConfirmHostRootBan).To(BeTrue())
		Expect(p.Spec.TTLSecondsAfterFinished).To(HaveValue(Equal(int32(86400))))
	})

	It("Argo CD PostSync hook: each sync creates a Purge of its own, healthy once Complete", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		var names []string
		for range 2 { // two syncs: Argo CD creates a generateName hook anew each time
			u := onlyManifest(filepath.Join("after-rollout", "argocd-postsync-purge.yaml"), ns)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			Expect(u.GetAnnotations()).To(HaveKeyWithValue("argocd.argoproj.io/hook", "PostSync"))
			Expect(u.GetAnnotations()).To(HaveKeyWithValue("argocd.argoproj.io/hook-delete-policy", "HookSucceeded"))
			names = append(names, u.GetName())
		}
		Expect(names[0]).To(HavePrefix("web-postsync-"))
		Expect(names[0]).NotTo(Equal(names[1]))

		By("judging the Purge's health as Argo CD would, with the recipe's health check")
		health := healthScript()
		p := &cachev1alpha1.Purge{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: names[0]}, p)).To(Succeed())
		Expect(health(p)).To(Equal("Progressing"), "created, not started: HookSucceeded must not delete it yet")
		p.Status.Progress = "1/3"
		p.Status.Conditions = []metav1.Condition{{Type: cachev1alpha1.PurgeConditionComplete, Status: metav1.ConditionFalse, Reason: "InProgress"}}
		Expect(health(p)).To(Equal("Progressing"))
		p.Status.Conditions[0] = metav1.Condition{Type: cachev1alpha1.PurgeConditionComplete, Status: metav1.ConditionTrue, Reason: "AllPodsDone"}
		Expect(health(p)).To(Equal("Healthy"))
		p.Status.Conditions = []metav1.Condition{
			{Type: cachev1alpha1.PurgeConditionComplete, Status: metav1.ConditionFalse, Reason: "DeadlineExceeded"},
			{Type: cachev1alpha1.PurgeConditionFailed, Status: metav1.ConditionTrue, Reason: "DeadlineExceeded"},
		}
		Expect(health(p)).To(Equal("Degraded"))
	})

	It("Flux: a Purge named after the release, applied once the app Kustomization is Ready", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		By("checking the Kustomizations order the Purge after the rollout")
		ks := manifests(filepath.Join("after-rollout", "flux", "kustomizations.yaml"))
		Expect(ks).To(HaveLen(2))
		wait, _, _ := unstructured.NestedBool(ks[0].Object, "spec", "wait")
		Expect(wait).To(BeTrue(), "the app Kustomization is Ready only once rolled out")
		deps, _, _ := unstructured.NestedSlice(ks[1].Object, "spec", "dependsOn")
		Expect(deps).To(ConsistOf(map[string]any{"name": ks[0].GetName()}))
		release, _, _ := unstructured.NestedString(ks[1].Object, "spec", "postBuild", "substitute", "RELEASE")
		Expect(release).NotTo(BeEmpty())

		By("applying the Purge as kustomize-controller would, for two releases and a re-apply")
		apply := func(release string) string {
			GinkgoHelper()
			data, err := os.ReadFile(filepath.Join(samples, "after-rollout", "flux", "purge.yaml"))
			Expect(err).NotTo(HaveOccurred())
			// Flux's postBuild substitution, for the one variable the file uses.
			text := strings.ReplaceAll(string(data), "${RELEASE}", release)
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal([]byte(text), &u.Object)).To(Succeed())
			u.SetNamespace(ns)
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kustomize-controller"))).To(Succeed())
			return u.GetName()
		}
		first := apply(release)
		Expect(apply(release)).To(Equal(first), "an unchanged release re-applies the same Purge, which the API accepts")
		second := apply("1.4.3")
		Expect(first).To(Equal("web-release-" + release))
		Expect(second).To(Equal("web-release-1.4.3"))
		var all cachev1alpha1.PurgeList
		Expect(k8sClient.List(ctx, &all, client.InNamespace(ns))).To(Succeed())
		Expect(all.Items).To(HaveLen(2))
	})
})

// healthScript loads the recipe's Argo CD health check and returns a
// function that runs it on a Purge, as Argo CD does: obj is the object as
// a Lua table, the script returns {status, message}.
func healthScript() func(*cachev1alpha1.Purge) string {
	GinkgoHelper()
	cm := onlyManifest(filepath.Join("after-rollout", "argocd-purge-health.yaml"), "argocd")
	var configMap corev1.ConfigMap
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(cm.Object, &configMap)).To(Succeed())
	script := configMap.Data["resource.customizations.health.cache.cacheops.io_Purge"]
	Expect(script).NotTo(BeEmpty())
	return func(p *cachev1alpha1.Purge) string {
		GinkgoHelper()
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
		Expect(err).NotTo(HaveOccurred())
		L := lua.NewState()
		defer L.Close()
		L.SetGlobal("obj", toLua(L, obj))
		Expect(L.DoString(script)).To(Succeed())
		hs, ok := L.Get(-1).(*lua.LTable)
		Expect(ok).To(BeTrue(), "the script returns a table")
		Expect(hs.RawGetString("message").Type()).To(Equal(lua.LTString))
		return hs.RawGetString("status").String()
	}
}

// toLua turns decoded JSON into Lua values: objects and arrays become
// tables (arrays 1-based), as Argo CD passes objects to its scripts.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	Fail("unexpected JSON value")
	return lua.LNil
}
