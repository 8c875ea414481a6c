package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The purge gateway, served by the manager, driven as content systems and
// CDN-API tools drive a Varnish, Fastly or Cloudflare: each request, as the
// client's source builds it (shared/research/invalidation-wire-formats.md
// names the files), becomes the Purge it means, the operator fans it out,
// and the objects are gone from every pod while the others stay cached.
//
// One fleet serves every spec, so each one warms paths of its own (product
// IDs no other spec uses) and checks only those; the requests that empty a
// whole host check the paths they warmed and nothing else. A content
// system's tag purge empties objects the origin tagged in that system's
// own response header (?tag-style=, test/origin), which the cache pods
// index as they are, and objects tagged in Surrogate-Key alike.
var _ = Describe("The purge gateway", Ordered, func() {
	const replicas = 2
	var (
		f     *fleet
		token string
	)
	BeforeAll(func(ctx SpecContext) {
		f = newFleet(ctx, "gateway", replicas)
		By("letting content systems address the fleet as edge-purge.gateway.svc")
		f.mustKubectl(ctx, "", "patch", "cacheproxy", "edge", "--type=merge", "-p", `{"spec":{"purgeGateway":{"enabled":true}}}`)
		Eventually(func(g Gomega) {
			out, err := f.kubectl(ctx, "", "get", "service", "edge-purge", "-o", "jsonpath={.spec.type} {.spec.externalName}")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(HavePrefix("ExternalName purge-operator-purge-gateway.purge-operator-system.svc"))
		}).WithContext(ctx).Should(Succeed())
		By("giving the CMS a ServiceAccount that may purge, as the README says")
		token = purgerToken(ctx, f, "cms", true)
	})

	// toGateway is the Host of a client whose "Varnish server" is the
	// fleet's edge-purge Service; toSite, of one that sends the site's own
	// Host (WordPress, FOSHttpCache's PURGE of a URL).
	const (
		toGateway = "gateway"
		toSite    = host
	)
	type request struct {
		method, path, host string
		header             map[string]string
		body               string
	}
	type want struct {
		spec cachev1alpha1.PurgeSpec
		// source is the dialect label; answer, a piece of the dialect's
		// answer.
		source cachev1alpha1.PurgeSource
		answer string
		// purged must be gone from every pod, kept still cached.
		purged, kept []string
		// everything: the request empties the host, so objects of earlier
		// specs count too and the invalidated total is not checked.
		everything bool
	}
	varnish := func(spec cachev1alpha1.PurgeSpec, purged, kept []string) want {
		return want{spec: spec, source: cachev1alpha1.PurgeSourceVarnish, answer: `{"purges":[`, purged: purged, kept: kept}
	}
	fastly := func(spec cachev1alpha1.PurgeSpec, answer string, purged, kept []string) want {
		return want{spec: spec, source: cachev1alpha1.PurgeSourceFastly, answer: answer, purged: purged, kept: kept}
	}
	cloudflare := func(spec cachev1alpha1.PurgeSpec, purged, kept []string) want {
		return want{spec: spec, source: cachev1alpha1.PurgeSourceCloudflare, answer: `{"success":true,"errors":[],"messages":[],"result":{"id":"`, purged: purged, kept: kept}
	}
	tags := func(mode cachev1alpha1.PurgeMode, t ...string) cachev1alpha1.PurgeSpec {
		return cachev1alpha1.PurgeSpec{Mode: mode, Tags: t}
	}
	urls := func(mode cachev1alpha1.PurgeMode, u ...string) cachev1alpha1.PurgeSpec {
		return cachev1alpha1.PurgeSpec{Mode: mode, URLs: u}
	}
	wholeHost := cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeBan, URLs: []string{"https://" + host + "/"}, ConfirmHostRootBan: true}
	const simple, ban = cachev1alpha1.PurgeModeSimple, cachev1alpha1.PurgeModeBan
	everything := func(w want) want { w.everything = true; return w }

	DescribeTable("turns each client's request into its Purge and empties every pod of what it names",
		func(ctx SpecContext, r request, w want) {
			before := warm(ctx, f.pods, append(append([]string{}, w.purged...), w.kept...)...)
			h := map[string]string{headerPurgeWait: "60s"}
			for k, v := range r.header {
				h[k] = v
			}
			if _, ok := h["Fastly-Key"]; !ok {
				h["Authorization"] = "Bearer " + token
			} else {
				h["Fastly-Key"] = token
			}
			target := r.host
			if target == toGateway {
				target = "edge-purge." + f.ns + ".svc:8090"
			}

			a := callGateway(ctx, r.method, r.path, target, h, r.body)
			Expect(a.status).To(Equal(http.StatusOK), a.body)
			Expect(a.body).To(ContainSubstring(w.answer))
			Expect(a.header.Get("Content-Type")).To(Equal("application/json"))
			Expect(a.header.Get("X-Purge-Complete")).To(Equal("true"), "answered once the Purge completed: %s", a.body)
			names := strings.Split(a.header.Get("X-Purge-Name"), ",")
			Expect(names).To(HaveLen(1), a.body)
			if !w.everything {
				Expect(a.header.Get("X-Purge-Invalidated")).To(Equal(strconv.Itoa(replicas*len(w.purged))), "objects invalidated on all pods")
			}

			p := f.waitPurge(ctx, names[0], cachev1alpha1.PurgeConditionComplete)
			expectAllSucceeded(p, f.pods)
			spec := w.spec
			spec.CacheProxyRef.Name = "edge"
			spec.DeadlineSeconds = p.Spec.DeadlineSeconds // the API's default
			Expect(p.Spec).To(Equal(spec))
			Expect(p.Labels).To(HaveKeyWithValue(cachev1alpha1.LabelPurgeSource, string(w.source)))
			Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, "system:serviceaccount:"+f.ns+":cms"))
			Expect(p.Annotations[cachev1alpha1.AnnotationRequest]).To(HavePrefix(string(w.source) + ": " + r.method + " "))
			for _, pod := range f.pods {
				for _, path := range w.purged {
					expectMiss(ctx, pod, path, before)
				}
				for _, path := range w.kept {
					expectHit(ctx, pod, path, before)
				}
			}
		},
		// Magento 2 core, PurgeCache.php: PURGE / to each http-cache-host,
		// one ((^|,)TAG(,|$)) per tag, joined by |.
		Entry("Magento: tags", request{"PURGE", "/", toGateway, map[string]string{
			"X-Magento-Tags-Pattern": `((^|,)product-11(,|$))|((^|,)product-12(,|$))`}, ""},
			varnish(tags(simple, "product-11", "product-12"), []string{"/products/11?tag-style=magento", "/img/product-11.svg", "/api/products/12?tag-style=magento"}, []string{"/products/13?tag-style=magento"})),
		// Magento's FlushAllCacheObserver.php: the whole cache.
		Entry("Magento: flush all", request{"PURGE", "/", toGateway, map[string]string{"X-Magento-Tags-Pattern": ".*"}, ""},
			everything(varnish(wholeHost, []string{"/products/14", "/img/product-15.svg"}, nil))),
		// Drupal varnish_purger, bundled, as Lagoon configures it: BAN /
		// with Cache-Tags: [invalidations:separated_pipe].
		Entry("Drupal: Cache-Tags", request{"BAN", "/", toGateway, map[string]string{"Cache-Tags": "product-21|product-22"}, ""},
			varnish(tags(simple, "product-21", "product-22"), []string{"/products/21?tag-style=drupal", "/api/products/22?tag-style=drupal"}, []string{"/products/23?tag-style=drupal"})),
		// WordPress Proxy Cache Purge 5.2.0, purge_url(): PURGE to the
		// Varnish address with the site's host; /.* with regex flushes.
		Entry("WordPress: one URL", request{"PURGE", "/products/31", toSite + ":80", map[string]string{"X-Purge-Method": "default"}, ""},
			varnish(urls(simple, "https://"+host+"/products/31"), []string{"/products/31"}, []string{"/api/products/31", "/products/32"})),
		Entry("WordPress: purge all", request{"PURGE", "/.*", toSite, map[string]string{"X-Purge-Method": "regex"}, ""},
			everything(varnish(wholeHost, []string{"/products/34", "/api/products/35"}, nil))),
		// Proxy Cache Purge 5.4+ in Cache Tags mode: PURGE / with the
		// tags joined by |; its responses carry X-Cache-Tags: a,b.
		Entry("WordPress: tags", request{"PURGE", "/", toSite, map[string]string{
			"X-Purge-Method": "tags", "X-Cache-Tags-Pattern": "product-121|product-122"}, ""},
			varnish(tags(simple, "product-121", "product-122"), []string{"/products/121?tag-style=fos", "/api/products/122?tag-style=fos"}, []string{"/products/123?tag-style=fos"})),
		// FOSHttpCache Varnish.php: invalidateTags is a BAN with the
		// default ban headers and a preg_quoted alternation; banPath a BAN
		// with X-Url and an X-Host of preg_quoted hosts; PURGEKEYS in xkey
		// mode.
		Entry("FOSHttpCache: tags", request{"BAN", "/", toGateway, map[string]string{
			"X-Cache-Tags": `(^|,)(product\-41|product\-42)(,|$)`, "X-Host": ".*", "X-Url": ".*", "X-Content-Type": ".*"}, ""},
			varnish(tags(simple, "product-41", "product-42"), []string{"/products/41?tag-style=fos", "/img/product-42.svg"}, []string{"/products/43?tag-style=fos"})),
		Entry("FOSHttpCache: a path prefix", request{"BAN", "/", toGateway, map[string]string{
			"X-Host": `^(www\.example\.com)$`, "X-Url": "^/img/product-5", "X-Content-Type": ".*"}, ""},
			varnish(urls(ban, "https://"+host+"/img/product-5"), []string{"/img/product-51.svg", "/img/product-52.svg"}, []string{"/products/51"})),
		Entry("FOSHttpCache: xkey", request{"PURGEKEYS", "/", toGateway, map[string]string{"xkey-purge": "product-61 product-62"}, ""},
			varnish(tags(simple, "product-61", "product-62"), []string{"/products/61?tag-style=xkey", "/api/products/62?tag-style=xkey"}, []string{"/products/63?tag-style=xkey"})),
		// API Platform VarnishPurger.php: BAN of its base URI with
		// (iri1|iri2)($|\,), each preg_quoted.
		Entry("API Platform: ban regex", request{"BAN", "/", toGateway, map[string]string{
			"ApiPlatform-Ban-Regex": `(product\-71|product\-72)($|\,)`}, ""},
			varnish(tags(simple, "product-71", "product-72"), []string{"/products/71?tag-style=api-platform", "/api/products/72?tag-style=api-platform"}, []string{"/products/73?tag-style=api-platform"})),
		// Shopware VarnishReverseProxyGateway.php: PURGE of the proxy
		// host with xkey, PURGE <host><url> for a URL.
		Entry("Shopware: xkey", request{"PURGE", "/", toGateway, map[string]string{"xkey": "product-81 product-82"}, ""},
			varnish(tags(simple, "product-81", "product-82"), []string{"/products/81?tag-style=xkey", "/img/product-82.svg"}, []string{"/products/83?tag-style=xkey"})),
		Entry("Shopware: a URL", request{"PURGE", "/products/84", toGateway, nil, ""},
			varnish(urls(simple, "https://"+host+"/products/84"), []string{"/products/84"}, []string{"/api/products/84"})),
		// TYPO3 netlogix/nxvarnish VarnishService.php: BAN of its
		// varnishHost, one tag a request, as ;preg_quoted tag;; its pages
		// carry X-Cache-Tags: ;tag;tag;.
		Entry("TYPO3 nxvarnish: a tag", request{"BAN", "/", toGateway, map[string]string{"X-Cache-Tags": `;product\-201;`}, ""},
			varnish(tags(simple, "product-201"), []string{"/products/201?tag-style=typo3", "/api/products/201?tag-style=typo3"}, []string{"/products/202?tag-style=typo3"})),
		// TYPO3 mittwald/typo3-varnishcache VarnishCacheService.php: BAN
		// of <server>:<port>/<page path> with the domain in X-Host and the
		// page's path in X-Url.
		Entry("TYPO3 varnishcache: a page", request{"BAN", "/img/product-171.svg", toGateway, map[string]string{
			"X-Host": host, "X-Url": "/img/product-171.svg"}, ""},
			varnish(urls(ban, "https://"+host+"/img/product-171.svg"), []string{"/img/product-171.svg"}, []string{"/img/product-172.svg", "/products/171"})),
		// The Fastly API as fastly-js, FOSHttpCache's Fastly.php and
		// Shopware's FastlyReverseProxyGateway.php call it.
		Entry("Fastly: one key", request{"POST", "/service/gateway.edge/purge/product-91", "", map[string]string{
			"Fastly-Key": "", "Accept": "application/json"}, ""},
			fastly(tags(simple, "product-91"), `"status":"ok"`, []string{"/products/91", "/img/product-91.svg"}, []string{"/products/92"})),
		Entry("Fastly: keys in bulk", request{"POST", "/service/gateway.edge/purge", "", map[string]string{
			"Fastly-Key": "", "surrogate-key": "product-93 product-94", "fastly-soft-purge": "0"}, ""},
			fastly(tags(simple, "product-93", "product-94"), `"product-93":"edge-fastly-`, []string{"/products/93", "/api/products/94"}, []string{"/products/95"})),
		Entry("Fastly: one URL", request{"POST", "/purge/www.example.com/products/96", "", map[string]string{"Fastly-Key": ""}, ""},
			fastly(urls(simple, "https://"+host+"/products/96"), `"status":"ok"`, []string{"/products/96"}, []string{"/api/products/96"})),
		Entry("Fastly: purge all", request{"POST", "/service/gateway.edge/purge_all", "", map[string]string{"Fastly-Key": ""}, ""},
			everything(fastly(wholeHost, `"status":"ok"`, []string{"/products/97"}, nil))),
		// The Cloudflare API as cloudflare-go, Drupal's cloudflare_purge
		// and FOSHttpCache's Cloudflare.php call it.
		Entry("Cloudflare: files", request{"POST", "/client/v4/zones/gateway.edge/purge_cache", "", map[string]string{"Content-Type": "application/json"},
			`{"files":["https://www.example.com/products/101",{"url":"https://www.example.com/products/102","headers":{"CF-IPCountry":"DE"}}]}`},
			cloudflare(urls(simple, "https://"+host+"/products/101", "https://"+host+"/products/102"), []string{"/products/101", "/products/102"}, []string{"/products/103"})),
		Entry("Cloudflare: tags", request{"POST", "/client/v4/zones/gateway.edge/purge_cache", "", map[string]string{"Content-Type": "application/json"},
			`{"tags":["product-111"]}`},
			cloudflare(tags(simple, "product-111"), []string{"/products/111", "/img/product-111.svg"}, []string{"/products/112"})),
		Entry("Cloudflare: prefixes", request{"POST", "/client/v4/zones/gateway.edge/purge_cache", "", map[string]string{"Content-Type": "application/json"},
			`{"prefixes":["www.example.com/img/product-13"]}`},
			cloudflare(urls(ban, "https://"+host+"/img/product-13"), []string{"/img/product-131.svg", "/img/product-132.svg"}, []string{"/products/131"})),
		Entry("Cloudflare: hosts", request{"POST", "/client/v4/zones/gateway.edge/purge_cache", "", map[string]string{"Content-Type": "application/json"},
			`{"hosts":["www.example.com"]}`},
			everything(cloudflare(wholeHost, []string{"/products/141"}, nil))),
		Entry("Cloudflare: purge everything", request{"POST", "/client/v4/zones/gateway.edge/purge_cache", "", map[string]string{"Content-Type": "application/json"},
			`{"purge_everything":true}`},
			everything(cloudflare(wholeHost, []string{"/products/151", "/img/product-152.svg"}, nil))),
	)

	It("refuses callers without a token or without the right, and a forged requested-by, creating nothing", func(ctx SpecContext) {
		before := purgeCount(ctx, f)
		magento := map[string]string{"X-Magento-Tags-Pattern": "((^|,)product-161(,|$))"}
		purgeHost := "edge-purge." + f.ns + ".svc:8090"

		a := callGateway(ctx, "PURGE", "/", purgeHost, magento, "")
		Expect(a.status).To(Equal(http.StatusUnauthorized), a.body)
		Expect(a.body).To(ContainSubstring("kubectl create token"))

		a = callGateway(ctx, "PURGE", "/", purgeHost, withHeader(magento, "Authorization", "Bearer not-a-token"), "")
		Expect(a.status).To(Equal(http.StatusUnauthorized), a.body)

		reader := purgerToken(ctx, f, "reader", false)
		a = callGateway(ctx, "PURGE", "/", purgeHost, withHeader(magento, "Authorization", "Bearer "+reader), "")
		Expect(a.status).To(Equal(http.StatusForbidden), a.body)
		Expect(a.body).To(ContainSubstring("system:serviceaccount:" + f.ns + ":reader may not create purges in namespace " + f.ns))

		By("refusing, in the API server, a Purge applied with a forged requested-by")
		out, err := f.kubectl(ctx, `
apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: forged
  annotations:
    cache.cacheops.io/requested-by: system:serviceaccount:`+f.ns+`:cms
spec:
  cacheProxyRef:
    name: edge
  tags:
  - product-161
`, "apply", "-f", "-")
		Expect(err).To(MatchError(ContainSubstring("only the purge-operator may set or change them")), out)
		Expect(purgeCount(ctx, f)).To(Equal(before), "nothing was created")
	})

	// Pods of the site send their purges as a content system does, to
	// http://edge-purge.<namespace>.svc:8090: the cluster's DNS resolves
	// the ExternalName Service to the gateway's, kube-proxy routes it, and
	// the gateway sees the pod's own address. Magento core sends no token:
	// its pods are let in by allowUnauthenticatedFrom, no other pod is; a
	// client that can send a header uses its pod's ServiceAccount token.
	It("serves pods that reach it through the edge-purge Service: Magento's without a token where allowUnauthenticatedFrom picks them, another with its ServiceAccount's token", func(ctx SpecContext) {
		f.mustKubectl(ctx, "", "patch", "cacheproxy", "edge", "--type=merge", "-p",
			`{"spec":{"purgeGateway":{"allowUnauthenticatedFrom":{"podSelector":{"matchLabels":{"app":"magento"}}}}}}`)
		DeferCleanup(func(ctx SpecContext) {
			f.mustKubectl(ctx, "", "patch", "cacheproxy", "edge", "--type=json", "-p",
				`[{"op":"remove","path":"/spec/purgeGateway/allowUnauthenticatedFrom"}]`)
		})
		purgeURL := "http://edge-purge." + f.ns + ".svc:8090/"
		magento := []string{"-X", "PURGE", "-H", "X-Magento-Tags-Pattern: ((^|,)product-181(,|$))", "-H", headerPurgeWait + ": 60s", purgeURL}
		before := purgeCount(ctx, f)

		By("refusing a pod the CacheProxy does not pick, without a token")
		phase, log := runClientPod(ctx, f, "shop-0", "shop", "", magento...)
		Expect(phase).To(Equal(corev1.PodFailed), log)
		Expect(log).To(ContainSubstring("401 Unauthorized"))
		Expect(purgeCount(ctx, f)).To(Equal(before), "nothing was created")

		By("serving Magento's pod, without a token")
		purged, kept := []string{"/products/181?tag-style=magento", "/img/product-181.svg"}, []string{"/products/182?tag-style=magento"}
		versions := warm(ctx, f.pods, append(append([]string{}, purged...), kept...)...)
		phase, log = runClientPod(ctx, f, "magento-0", "magento", "", magento...)
		Expect(phase).To(Equal(corev1.PodSucceeded), log)
		Expect(log).To(ContainSubstring("X-Purge-Complete: true"))
		p := f.waitPurge(ctx, purgeNameIn(log), cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Spec.Tags).To(Equal([]string{"product-181"}))
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, "unauthenticated "+f.ns+"/magento-0"))
		for _, pod := range f.pods {
			for _, path := range purged {
				expectMiss(ctx, pod, path, versions)
			}
			for _, path := range kept {
				expectHit(ctx, pod, path, versions)
			}
		}

		By("serving a Drupal pod with its ServiceAccount's token")
		purged, kept = []string{"/products/191?tag-style=drupal"}, []string{"/products/192?tag-style=drupal"}
		versions = warm(ctx, f.pods, append(append([]string{}, purged...), kept...)...)
		phase, log = runClientPod(ctx, f, "drupal-0", "drupal", "cms", "-X", "BAN", "-H", "Cache-Tags: product-191",
			"-H", headerPurgeWait+": 60s", "--bearer-file", "/var/run/secrets/kubernetes.io/serviceaccount/token", purgeURL)
		Expect(phase).To(Equal(corev1.PodSucceeded), log)
		p = f.waitPurge(ctx, purgeNameIn(log), cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Spec.Tags).To(Equal([]string{"product-191"}))
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, "system:serviceaccount:"+f.ns+":cms"))
		for _, pod := range f.pods {
			expectMiss(ctx, pod, purged[0], versions)
			expectHit(ctx, pod, kept[0], versions)
		}
	})
})

// runClientPod runs the demo-origin image's http-request in a pod named
// name, labelled app: app, under the ServiceAccount sa ("" for the
// namespace's default), with args, and returns the phase it ended in and
// what it printed (the answer, as curl -i prints it).
func runClientPod(ctx context.Context, f *fleet, name, app, sa string, args ...string) (corev1.PodPhase, string) {
	GinkgoHelper()
	command, err := json.Marshal(append([]string{"/http-request"}, args...))
	Expect(err).NotTo(HaveOccurred())
	serviceAccount := ""
	if sa != "" {
		serviceAccount = "\n  serviceAccountName: " + sa
	}
	f.apply(ctx, `apiVersion: v1
kind: Pod
metadata:
  name: `+name+`
  labels: {app: `+app+`}
spec:
  restartPolicy: Never`+serviceAccount+`
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: client
    image: ghcr.io/cacheops/demo-origin:v0.1.0
    imagePullPolicy: Never
    command: `+string(command)+`
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`)
	var phase corev1.PodPhase
	Eventually(func(g Gomega) {
		phase = f.pod(ctx, g, name).Status.Phase
		g.Expect(phase).To(BeElementOf(corev1.PodSucceeded, corev1.PodFailed))
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	return phase, f.mustKubectl(ctx, "", "logs", "pod/"+name)
}

// purgeNameIn is the one Purge an answer printed by http-request names in
// X-Purge-Name.
func purgeNameIn(answer string) string {
	GinkgoHelper()
	for _, line := range strings.Split(answer, "\n") {
		if v, ok := strings.CutPrefix(line, "X-Purge-Name: "); ok {
			Expect(v).NotTo(ContainSubstring(","), "one Purge: %s", answer)
			return v
		}
	}
	Fail("no X-Purge-Name in the answer:\n" + answer)
	return ""
}

// headerPurgeWait asks the gateway to answer once the Purges finish.
const headerPurgeWait = "X-Purge-Wait"

// purgerToken creates a ServiceAccount in the fleet's namespace, bound to
// config/rbac's purge-editor role if mayPurge, and returns a token of it:
// the README's three kubectl lines.
func purgerToken(ctx context.Context, f *fleet, name string, mayPurge bool) string {
	GinkgoHelper()
	f.mustKubectl(ctx, "", "create", "serviceaccount", name)
	if mayPurge {
		f.mustKubectl(ctx, "", "create", "rolebinding", name+"-purges",
			"--clusterrole=purge-operator-purge-editor-role", "--serviceaccount="+f.ns+":"+name)
		// RBAC takes in a new binding a moment later (an informer).
		Eventually(func() (string, error) {
			return f.kubectl(ctx, "", "auth", "can-i", "create", "purges."+cachev1alpha1.GroupVersion.Group,
				"--as=system:serviceaccount:"+f.ns+":"+name)
		}).WithContext(ctx).Should(Equal("yes\n"))
	}
	return strings.TrimSpace(f.mustKubectl(ctx, "", "create", "token", name))
}

// gatewayAnswer is the gateway's answer, read whole.
type gatewayAnswer struct {
	status int
	header http.Header
	body   string
}

// callGateway sends one request to the manager's purge gateway; host, if
// set, is its Host header.
func callGateway(ctx context.Context, method, path, host string, header map[string]string, body string) gatewayAnswer {
	GinkgoHelper()
	return callGatewayAt(ctx, gatewayAddress(), method, path, host, header, body)
}

// callGatewayAt is callGateway of the gateway at addr.
func callGatewayAt(ctx context.Context, addr, method, path, host string, header map[string]string, body string) gatewayAnswer {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 90 * time.Second}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("%s %s (Host %s): %d %s\n", method, path, host, resp.StatusCode, data)
	return gatewayAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range h {
		out[kk] = vv
	}
	return out
}

// purgeCount is the number of Purges in the fleet's namespace.
func purgeCount(ctx context.Context, f *fleet) int {
	GinkgoHelper()
	var list cachev1alpha1.PurgeList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(f.ns))).To(Succeed())
	return len(list.Items)
}
