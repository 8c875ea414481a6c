package purge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

const testHost = "www.example.com"

// origin is a real HTTP origin whose every answer carries a per-path
// version, so a spec sees when a proxy fetched again.
type origin struct {
	*httptest.Server
	mu       sync.Mutex // guards versions
	versions map[string]int
	down     atomic.Bool
}

func newOrigin() *origin {
	o := &origin{versions: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	DeferCleanup(o.Close)
	return o
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	if o.down.Load() {
		http.Error(w, "origin down", http.StatusServiceUnavailable)
		return
	}
	o.mu.Lock()
	o.versions[r.URL.RequestURI()]++
	v := o.versions[r.URL.RequestURI()]
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=3600")
	// /products/42/... objects carry the tags product-42 and products.
	if rest, ok := strings.CutPrefix(r.URL.Path, "/products/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		w.Header().Set("Surrogate-Key", "product-"+id+" products")
	}
	fmt.Fprintf(w, "%s version %d", r.URL.RequestURI(), v)
}

// fetches is how many times the origin served uri.
func (o *origin) fetches(uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.versions[uri]
}

// podProxy is one pod of a fleet: a Pod object whose IP is served by a
// real cacheproxy, admin API on :9090, public port on :8080.
type podProxy struct {
	name, ip string
	proxy    *cacheproxy.Proxy
	servers  []*http.Server
}

// endpoint is the admin API base URL the controller calls.
func (p *podProxy) endpoint() string { return "http://" + net.JoinHostPort(p.ip, "9090") }

// get fetches path for testHost through the pod's public port and returns
// the body and the Cache-Status header.
func (p *podProxy) get(path string) (body, cacheStatus string) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(p.ip, "8080")+path, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Host = testHost
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET %s through %s: %s", path, p.name, b)
	return string(b), resp.Header.Get("Cache-Status")
}

// stop takes the pod's proxy down: its admin API refuses connections.
func (p *podProxy) stop() {
	for _, s := range p.servers {
		_ = s.Close()
	}
	p.servers = nil
	if p.proxy != nil {
		_ = p.proxy.Close()
		p.proxy = nil
	}
}

// hang takes the pod's proxy down and leaves in its place an admin port
// that accepts calls and never answers them, as a hung process would.
func (p *podProxy) hang() {
	GinkgoHelper()
	p.stop()
	ln, err := net.Listen("tcp", net.JoinHostPort(p.ip, "9090"))
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})}
	go func() { _ = srv.Serve(ln) }()
	p.servers = []*http.Server{srv}
}

// serve starts a proxy on the pod's IP, with the given admin token.
func (p *podProxy) serve(originURL, token string) {
	GinkgoHelper()
	u, err := url.Parse(originURL)
	Expect(err).NotTo(HaveOccurred())
	p.proxy, err = cacheproxy.New(cacheproxy.Config{
		Origin:     u,
		Hosts:      []string{testHost},
		AdminToken: token,
		CacheSize:  16 << 20,
		Logger:     slog.New(slog.NewTextHandler(GinkgoWriter, nil)),
	})
	Expect(err).NotTo(HaveOccurred())
	p.servers = nil
	for port, h := range map[string]http.Handler{"8080": p.proxy, "9090": p.proxy.AdminHandler()} {
		ln, err := net.Listen("tcp", net.JoinHostPort(p.ip, port))
		Expect(err).NotTo(HaveOccurred())
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		p.servers = append(p.servers, srv)
	}
}

// ips hands out loopback addresses, a /16 chosen at random per test
// process so that two runs on one machine do not collide.
var ips = struct {
	sync.Mutex
	base [2]byte
	next int
}{base: [2]byte{byte(100 + rand.IntN(100)), byte(rand.IntN(250))}}

// freeIP returns a loopback address whose ports 8080 and 9090 are free.
func freeIP() string {
	GinkgoHelper()
	ips.Lock()
	defer ips.Unlock()
	for range 1000 {
		ips.next++
		ip := fmt.Sprintf("127.%d.%d.%d", ips.base[0], ips.base[1]+byte(ips.next/250), 1+ips.next%250)
		if portsFree(ip, "8080", "9090") {
			return ip
		}
	}
	Fail("no free loopback address")
	return ""
}

func portsFree(ip string, ports ...string) bool {
	for _, port := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
		if err != nil {
			return false
		}
		_ = ln.Close()
	}
	return true
}

// fleet is a CacheProxy with n pods, each served by a real cacheproxy.
type fleet struct {
	cp     *cachev1alpha1.CacheProxy
	origin *origin
	token  string
	pods   []*podProxy
}

// newFleet creates a namespace, an origin and a CacheProxy, waits for the
// controller's Deployment and token Secret, then plays kubelet: it creates
// n Pods from the Deployment's template and serves each IP with a proxy.
func newFleet(ctx context.Context, n int) *fleet {
	GinkgoHelper()
	f := &fleet{origin: newOrigin()}
	f.cp = &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: newNamespace(ctx)},
		Spec: cachev1alpha1.CacheProxySpec{
			Replicas: ptr.To(int32(n)),
			Origin:   cachev1alpha1.OriginSpec{URL: f.origin.URL},
			Hosts:    []string{testHost},
		},
	}
	Expect(k8sClient.Create(ctx, f.cp)).To(Succeed())
	f.token = adminToken(ctx, f.cp)
	f.addPods(ctx, n)
	return f
}

// adminToken waits for the CacheProxy's admin-token Secret and returns it.
func adminToken(ctx context.Context, cp *cachev1alpha1.CacheProxy) string {
	GinkgoHelper()
	var secret corev1.Secret
	Eventually(func(g Gomega) {
		key := client.ObjectKey{Namespace: cp.Namespace, Name: fleetnames.TokenSecretName(cp.Name)}
		g.Expect(k8sClient.Get(ctx, key, &secret)).To(Succeed())
	}).Should(Succeed())
	return string(secret.Data[fleetnames.TokenKey])
}

// addPods creates n more pods of the fleet, each served by a proxy.
func (f *fleet) addPods(ctx context.Context, n int) {
	GinkgoHelper()
	var deploy appsv1.Deployment
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(f.cp), &deploy)).To(Succeed())
	}).Should(Succeed())
	for range n {
		p := &podProxy{name: fmt.Sprintf("%s-%d", f.cp.Name, len(f.pods)), ip: freeIP()}
		p.serve(f.origin.URL, f.token)
		DeferCleanup(p.stop)
		createPod(ctx, f.cp.Namespace, p.name, p.ip, &deploy.Spec.Template)
		f.pods = append(f.pods, p)
	}
	f.awaitListed(ctx, deploy.Spec.Template.Labels)
}

// awaitListed waits until the API server's watch cache lists every pod of
// the fleet with its IP: the controller lists a Purge's pods from there
// (resourceVersion "0"), and it holds a new pod a moment after the write.
func (f *fleet) awaitListed(ctx context.Context, labels map[string]string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var pods corev1.PodList
		g.Expect(k8sClient.List(ctx, &pods, client.InNamespace(f.cp.Namespace), client.MatchingLabels(labels),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}})).To(Succeed())
		withIP := 0
		for _, pod := range pods.Items {
			if pod.Status.PodIP != "" {
				withIP++
			}
		}
		g.Expect(withIP).To(Equal(len(f.pods)))
	}).Should(Succeed())
}

// createPod creates a pod from a template and gives it an IP, as the
// scheduler and kubelet would.
func createPod(ctx context.Context, namespace, name, ip string, tmpl *corev1.PodTemplateSpec) {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: tmpl.Labels},
		Spec:       *tmpl.Spec.DeepCopy(),
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// warm requests each path through every pod until it is a hit there.
func (f *fleet) warm(paths ...string) {
	GinkgoHelper()
	for _, p := range f.pods {
		for _, path := range paths {
			p.get(path)
		}
	}
	f.expectHits(paths...)
}

// expectHits asserts that the next request for each path is a hit on
// every pod: nothing removed or marked stale what warm stored.
func (f *fleet) expectHits(paths ...string) {
	GinkgoHelper()
	for _, p := range f.pods {
		for _, path := range paths {
			_, status := p.get(path)
			Expect(status).To(HavePrefix("cacheproxy; hit"), "%s on %s", path, p.name)
		}
	}
}

// purge creates a Purge of the fleet.
func (f *fleet) purge(ctx context.Context, name string, spec cachev1alpha1.PurgeSpec) *cachev1alpha1.Purge {
	GinkgoHelper()
	spec.CacheProxyRef = cachev1alpha1.CacheProxyReference{Name: f.cp.Name}
	p := &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.cp.Namespace}, Spec: spec}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

// waitFor waits until the Purge reaches phase and returns it.
func waitFor(ctx context.Context, p *cachev1alpha1.Purge, phase cachev1alpha1.PurgePhase) *cachev1alpha1.Purge {
	GinkgoHelper()
	got := &cachev1alpha1.Purge{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		g.Expect(got.Status.Phase).To(Equal(phase), "status: %+v", got.Status)
	}).Should(Succeed())
	return got
}

func newNamespace(ctx context.Context) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "purge-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}
