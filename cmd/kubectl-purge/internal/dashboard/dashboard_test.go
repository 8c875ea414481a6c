package dashboard_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// purgeAt reads the Purge whose page the tab shows.
func purgeAt(path string) *cachev1alpha1.Purge {
	GinkgoHelper()
	parts := strings.Split(strings.TrimPrefix(path, "/purges/"), "/")
	Expect(parts).To(HaveLen(2), "a Purge page: %s", path)
	var p cachev1alpha1.Purge
	Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: parts[0], Name: parts[1]}, &p)).To(Succeed())
	return &p
}

var _ = Describe("kubectl purge dashboard in Chromium", func() {
	var (
		ns string
		f  *fleet
		d  *runningDashboard
		t  *tab
	)
	BeforeEach(func() {
		ns = newNamespace()
		f = newFleet(ns, "edge", 3)
		f.warm("/app.js", "/img/a.png", "/img/b.png", "/products/42/page")
		d = startDashboard(adminKubeconfig, ns)
		t = newTab()
		t.open(d.url)
		Eventually(t.evalFunc(`document.getElementById("` + "namespace" + `").value`)).Should(Equal(ns))
	})

	It("names its controls exactly, creates a simple purge, and fills the pod table live until Complete", func() {
		t.one("combobox", "CacheProxy")
		t.one("group", "Method")
		for _, name := range []string{"Simple purge", "Soft purge", "Ban"} {
			t.one("radio", name)
		}
		t.one("textbox", "URLs")
		t.one("textbox", "Tags")
		t.one("checkbox", "Warm up (refetch)")
		t.one("button", "Preview")
		t.one("button", "Purge")
		t.one("table", "History")
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.screenshot("home")

		t.eval(`window.sameDocument = true`)
		t.fill("URLs", "https://www.example.com/app.js\nhttps://www.example.com/img/a.png")
		t.click("button", "Purge")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-simple-"))
		p := purgeAt(t.path()())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSimple))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/app.js", "https://www.example.com/img/a.png"}))
		Expect(p.Spec.DryRun).To(BeFalse())
		Expect(p.Labels).To(HaveKeyWithValue("app.kubernetes.io/created-by", "kubectl-purge"))

		t.one("table", "Pods")
		Eventually(t.rows("Pods")).Should(HaveEach(hasText("Succeeded")))
		Expect(t.rows("Pods")()).To(HaveLen(3))
		for _, row := range t.rows("Pods")() {
			Expect(row).To(MatchRegexp(`Succeeded \| 1 \| 2 \| 2 \| 0`), "attempts, matched, invalidated, refetched")
		}
		Eventually(t.text(".title .badge")).Should(Equal("Complete"))
		Eventually(t.rows("Events")).Should(ContainElement(hasText("Normal")))
		Expect(t.eval(`window.sameDocument`)).To(BeTrue(), "the page was not reloaded")
		t.screenshot("detail")
	})

	It("creates soft purges of tags with warm up, and bans a host's root only once the host is typed", func() {
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.click("radio", "Soft purge")
		t.fill("Tags", "product-42")
		t.click("checkbox", "Warm up (refetch)")
		t.click("button", "Purge")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-soft-"))
		p := purgeAt(t.path()())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.Tags).To(Equal([]string{"product-42"}))
		Expect(p.Spec.URLs).To(BeEmpty())
		Expect(p.Spec.Refetch).To(BeTrue())

		t.open(d.url)
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		By("validating as the user types, with the API server's own message")
		t.fill("URLs", "https://www.example.com/app.js\n\n# a comment\n/img/relative.png")
		Eventually(t.alerts()).Should(ContainSubstring("spec.urls[1] (URLs, line 4): must be an absolute http:// or https:// URL"))
		Expect(t.alerts()()).NotTo(ContainSubstring("Invalid value"), "the API server's reason in plain words, without its error type")
		t.click("button", "Purge")
		Eventually(t.alerts()).Should(ContainSubstring("The API server refused this Purge: spec.urls[1]: must be an absolute http:// or https:// URL"))
		Expect(t.path()()).To(Equal("/"))
		Expect(t.eval(`document.querySelector("textarea").getAttribute("aria-invalid")`)).To(Equal("true"))
		t.fill("URLs", "ftp://www.example.com/x")
		Eventually(t.alerts()).Should(ContainSubstring("must be an absolute http:// or https:// URL"))

		By("asking for the host before a host-root ban")
		t.click("radio", "Ban")
		Expect(t.eval(`document.querySelectorAll("textarea")[1].disabled`)).To(BeTrue(), "no tags with a ban")
		t.fill("URLs", "https://www.example.com/")
		t.one("textbox", "Type www.example.com to confirm")
		Eventually(t.alerts()).ShouldNot(ContainSubstring("must be"))
		t.click("button", "Purge")
		Eventually(t.alerts()).Should(ContainSubstring("Type www.example.com in the confirmation field"))
		Expect(t.path()()).To(Equal("/"))
		t.fill("Type www.example.com to confirm", "www.example.com")
		t.click("button", "Purge")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-ban-"))
		p = purgeAt(t.path()())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeBan))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/"}))
		Expect(p.Spec.ConfirmHostRootBan).To(BeTrue())
		Eventually(t.text(".title .badge")).Should(Equal("Complete"))
	})

	It("creates a soft purge of URLs dropped as a text file, with warm up, and a simple purge of tags", func() {
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.click("radio", "Soft purge")
		t.fill("URLs", "https://www.example.com/app.js")
		list := filepath.Join(GinkgoT().TempDir(), "urls.txt")
		Expect(os.WriteFile(list, []byte("# from the ticket\r\nhttps://www.example.com/img/a.png\r\n\r\nhttps://www.example.com/img/b.png\r\n"), 0o600)).To(Succeed())
		t.dropFile("URLs", list)
		Eventually(t.evalFunc(`document.querySelector("textarea").value`)).Should(Equal(
			"https://www.example.com/app.js\n# from the ticket\nhttps://www.example.com/img/a.png\n\nhttps://www.example.com/img/b.png\n"), "appended (a textarea keeps \\n line ends)")
		t.click("checkbox", "Warm up (refetch)")
		t.click("button", "Purge")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-soft-"))
		p := purgeAt(t.path()())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSoft))
		Expect(p.Spec.URLs).To(Equal([]string{"https://www.example.com/app.js", "https://www.example.com/img/a.png", "https://www.example.com/img/b.png"}))
		Expect(p.Spec.Tags).To(BeEmpty())
		Expect(p.Spec.Refetch).To(BeTrue())
		Eventually(t.rows("Pods")).Should(And(HaveLen(3), HaveEach(MatchRegexp(`Succeeded \| 1 \| 3 \| 3 \| 3`))), "matched, invalidated, refetched")

		t.click("link", "History")
		Eventually(t.path()).Should(Equal("/"))
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.fill("Tags", "product-42\nproducts")
		t.click("button", "Purge")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-simple-"))
		p = purgeAt(t.path()())
		Expect(p.Spec.Mode).To(Equal(cachev1alpha1.PurgeModeSimple))
		Expect(p.Spec.Tags).To(Equal([]string{"product-42", "products"}))
		Expect(p.Spec.URLs).To(BeEmpty())
		Expect(p.Spec.Refetch).To(BeFalse())
		Eventually(t.rows("Pods")).Should(And(HaveLen(3), HaveEach(MatchRegexp(`Succeeded \| 1 \| 1 \| 1 \| 0`))), "the one tagged object of each pod")
	})

	It("previews a ban with each pod's count from the real proxies, and hides the preview from History", func() {
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.click("radio", "Ban")
		t.fill("URLs", "https://www.example.com/img/")
		t.click("button", "Preview")
		Eventually(t.rows("Preview by pod")).Should(And(HaveLen(3), HaveEach(MatchRegexp(`Succeeded \| 2 \|`))))
		Eventually(t.text(".preview .total")).Should(ContainSubstring("6 objects in all would be invalidated"))
		t.screenshot("preview")

		var list cachev1alpha1.PurgeList
		Expect(k8sClient.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(HaveLen(1))
		preview := list.Items[0]
		Expect(preview.Spec.DryRun).To(BeTrue())
		Expect(preview.Spec.TTLSecondsAfterFinished).To(HaveValue(BeEquivalentTo(600)))
		Expect(preview.Status.ObjectsInvalidated).To(BeZero())

		Expect(t.rows("History")()).To(Equal([]string{"No Purges match."}))
		t.click("checkbox", "Show dry runs")
		Eventually(t.rows("History")).Should(ConsistOf(hasText(preview.Name, "ban, dry run", "Complete")))
	})

	It("lists every Purge of the namespace, newest first, live, and filters them", func() {
		ctx := context.Background()
		other := newFleet(ns, "other", 1)
		mk := func(name, cp string, urls ...string) {
			Expect(k8sClient.Create(ctx, &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: cp}, URLs: urls},
			})).To(Succeed())
		}
		mk("first", "edge", "https://www.example.com/app.js")
		mk("second", "other", "https://www.example.com/special.css", "https://www.example.com/b", "https://www.example.com/c")
		mk("third", "edge", "https://www.example.com/img/a.png")
		Eventually(t.rows("History")).Should(ConsistOf(
			hasText("first", "edge", "simple", "Complete", "3/3"),
			hasText("second", "other", "https://www.example.com/special.css (+2 more)", "Complete", "1/1"),
			hasText("third", "edge", "Complete", "3/3"),
		))
		Expect(other.pods).To(HaveLen(1))

		By("saying who created each: the requested-by annotation, else the field manager that wrote the spec")
		var first cachev1alpha1.Purge
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, &first)).To(Succeed())
		Expect(first.ManagedFields).NotTo(BeEmpty())
		Expect(t.rows("History")()).To(ContainElement(hasText("first", first.ManagedFields[0].Manager)))
		third := &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "third"}}
		Expect(k8sClient.Patch(ctx, third, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"`+cachev1alpha1.AnnotationRequestedBy+`":"alice"}}}`)))).To(Succeed())
		Eventually(t.rows("History")).Should(ContainElement(hasText("third", "alice")))

		t.choose("Filter by CacheProxy", "other")
		Eventually(t.rows("History")).Should(ConsistOf(hasText("second")))
		t.choose("Filter by CacheProxy", "")
		t.fill("Search", "img/a")
		Eventually(t.rows("History")).Should(ConsistOf(hasText("third")))
		t.fill("Search", "")
		t.choose("Filter by state", "Failed")
		Eventually(t.rows("History")).Should(Equal([]string{"No Purges match."}))
		t.choose("Filter by state", "Complete")
		Eventually(t.rows("History")).Should(HaveLen(3))
		t.screenshot("history")

		By("updating live when a Purge is deleted")
		Expect(k8sClient.Delete(ctx, &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}})).To(Succeed())
		Eventually(t.rows("History")).Should(HaveLen(2))
	})

	It("says which pods a failed Purge failed on and why, and retries those pods only", func() {
		f.pods[1].stopAdmin()
		Expect(k8sClient.Create(context.Background(), &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "doomed"},
			Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
				URLs: []string{"https://www.example.com/app.js"}, DeadlineSeconds: 2},
		})).To(Succeed())
		t.click("link", "doomed")
		Eventually(t.path()).Should(Equal("/purges/" + ns + "/doomed"))
		Eventually(t.text(".title .badge")).Should(Equal("Failed"))
		Eventually(t.text(".failed-box")).Should(hasText("Failed on 1 pod", "edge-1", "connection refused"))
		Expect(t.rows("Pods")()).To(ContainElement(hasText("edge-1", "Failed")))
		t.screenshot("failed")

		By("retrying only the pod that failed, once it answers again")
		f.pods[1].startAdmin()
		t.click("button", "Retry failed pods")
		Eventually(t.path()).Should(HavePrefix("/purges/" + ns + "/edge-simple-"))
		retry := purgeAt(t.path()())
		Expect(retry.Spec.URLs).To(Equal([]string{"https://www.example.com/app.js"}))
		Expect(retry.Spec.CacheProxyRef.Name).To(Equal("edge"))
		Expect(retry.Spec.PodNames).To(Equal([]string{"edge-1"}))
		Eventually(t.text(".title .badge")).Should(Equal("Complete"))
		Expect(t.rows("Pods")()).To(ConsistOf(MatchRegexp(`^edge-1 \| .* \| Succeeded \| 1 \| 1 \| 1 \| 0`)), "edge-0 and edge-2 are not called again")
		Expect(t.text(".spec")()).To(hasText("Only pods", "edge-1"))
	})

	It("shows each fleet's pods with their cache statistics, read through the pod proxy", func() {
		t.click("link", "Fleets")
		Eventually(t.path()).Should(Equal("/fleets"))
		Eventually(t.rows("Pods of edge")).Should(And(HaveLen(3), HaveEach(MatchRegexp(`Ready \| \S+ \| 4 \| 50\.0% \|`))))
		Expect(t.text(".fleet dl")()).To(hasText("3 of 3", "www.example.com", "256Mi"))
		t.screenshot("fleets")

		By("updating live: a pod's new objects, a pod deleted")
		t.eval(`window.sameDocument = true`)
		(&fleet{pods: f.pods[:1]}).warm("/img/c.png")
		Eventually(t.rows("Pods of edge")).Should(ContainElement(MatchRegexp(`^edge-0 \| Ready \| \S+ \| 5 \|`)))
		Expect(k8sClient.Delete(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge-2"}},
			client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(t.rows("Pods of edge")).Should(HaveLen(2))
		Expect(t.eval(`window.sameDocument`)).To(BeTrue(), "the page was not reloaded")
	})
})

var _ = Describe("kubectl purge dashboard for a user who may not create Purges", func() {
	It("shows the refusal that names the missing permission, before and after trying", func() {
		ns := newNamespace()
		newFleet(ns, "edge", 1)
		kc := grant(ns, "viewer", rbacv1.PolicyRule{
			APIGroups: []string{cachev1alpha1.GroupVersion.Group}, Resources: []string{"purges", "cacheproxies"}, Verbs: []string{"get", "list", "watch"},
		})
		d := startDashboard(kc, ns)
		t := newTab()
		t.open(d.url)
		Eventually(t.alerts()).Should(ContainSubstring(`You cannot create purges in namespace "` + ns + `"`))
		Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
		t.fill("URLs", "https://www.example.com/app.js")
		t.click("button", "Purge")
		Eventually(t.alerts()).Should(ContainSubstring(`User "viewer" cannot create resource "purges" in API group "cache.cacheops.io" in the namespace "` + ns + `"`))
		Expect(t.path()()).To(Equal("/"))
		t.screenshot("forbidden")

		t.click("link", "Fleets")
		Eventually(t.text(".fleet .note")).Should(ContainSubstring(`cannot list resource "pods"`))
	})
})
