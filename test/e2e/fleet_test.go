package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/util/podutils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// host is the one Host the fleets serve; every request and Purge URL uses
// it.
const host = "www.example.com"

// Cache-Status members (RFC 9211) the specs look for.
const (
	csHit        = "cacheproxy; hit"
	csMiss       = "fwd=uri-miss"
	csStored     = "stored"
	csStale      = "fwd=stale"
	csSoftPurged = "detail=soft-purged"
)

// httpClient opens a new connection per request, so requests through the
// Service address are spread over its pods, and never uses an HTTP proxy
// from the environment.
var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// fleet is one spec's world: a namespace holding the CacheProxy "edge" in
// front of an origin of its own.
type fleet struct {
	ns string
	// origin is the spec's origin on the host; nil when the fleet fronts
	// an origin running in the cluster.
	origin *testOrigin
	// pods are the pods that were ready when the fleet came up, by name.
	pods []corev1.Pod
}

// newFleet creates namespace ns, an origin, and the sample CacheProxy
// "edge" pointed at it with the given replicas, and waits until every pod
// is ready and the Service routes to them. The spec's cleanup deletes the
// namespace.
func newFleet(ctx context.Context, ns string, replicas int) *fleet {
	GinkgoHelper()
	origin := startOrigin(ctx)
	return newFleetFrom(ctx, ns, origin, cacheProxyYAML(origin.URL, replicas), replicas)
}

// newFleetFrom is newFleet with the CacheProxy "edge" given as YAML, in
// front of origin (nil when the spec serves its own).
func newFleetFrom(ctx context.Context, ns string, origin *testOrigin, cacheProxy string, replicas int) *fleet {
	GinkgoHelper()
	f := &fleet{ns: ns, origin: origin}
	createNamespace(ctx, ns)
	f.createCacheProxy(ctx, cacheProxy, replicas)
	return f
}

// createNamespace creates namespace ns, which the spec's cleanup deletes.
func createNamespace(ctx context.Context, ns string) {
	GinkgoHelper()
	mustKubectl(ctx, "", "create", "namespace", ns)
	createdNamespaces = append(createdNamespaces, ns)
	DeferCleanup(func(ctx SpecContext) {
		// Not waiting: the pods take a few seconds to drain, and the next
		// spec has a namespace of its own.
		mustKubectl(ctx, "", "delete", "namespace", ns, "--wait=false", "--ignore-not-found")
	}, NodeTimeout(time.Minute))
}

// createCacheProxy applies the CacheProxy "edge" (YAML) and waits for its
// replicas pods (f.pods).
func (f *fleet) createCacheProxy(ctx context.Context, cacheProxy string, replicas int) {
	GinkgoHelper()
	out := f.apply(ctx, cacheProxy)
	Expect(out).To(ContainSubstring("cacheproxy.cache.cacheops.io/edge created"))
	f.pods = f.waitReady(ctx, replicas)
}

// cacheProxyYAML is config/samples' CacheProxy with the origin URL and the
// replicas replaced.
func cacheProxyYAML(originURL string, replicas int) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(paths.root, "config", "samples", "cache_v1alpha1_cacheproxy.yaml"))
	Expect(err).NotTo(HaveOccurred())
	sample := string(b)
	for _, s := range []string{"url: http://web.web.svc:8080", "replicas: 3", "- " + host} {
		Expect(sample).To(ContainSubstring(s), "the sample CacheProxy changed: update the e2e suite")
	}
	sample = strings.Replace(sample, "url: http://web.web.svc:8080", "url: "+originURL, 1)
	return strings.Replace(sample, "replicas: 3", "replicas: "+strconv.Itoa(replicas), 1)
}

// kubectl runs kubectl in the fleet's namespace.
func (f *fleet) kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return kubectl(ctx, stdin, append(args, "-n", f.ns)...)
}

func (f *fleet) mustKubectl(ctx context.Context, stdin string, args ...string) string {
	GinkgoHelper()
	return mustKubectl(ctx, stdin, append(args, "-n", f.ns)...)
}

// apply is `kubectl apply -f -` of YAML a user would keep in a file.
func (f *fleet) apply(ctx context.Context, yaml string) string {
	GinkgoHelper()
	return f.mustKubectl(ctx, yaml, "apply", "-f", "-")
}

// waitReady waits for the CacheProxy to be Available, then for exactly
// replicas pods, each ready with an IP, behind the Service, and returns
// them sorted by name.
func (f *fleet) waitReady(ctx context.Context, replicas int) []corev1.Pod {
	GinkgoHelper()
	f.mustKubectl(ctx, "", "wait", "--for=condition=Available", "cacheproxy/edge", "--timeout=2m")
	var pods []corev1.Pod
	Eventually(func(g Gomega) {
		pods = f.livePods(ctx, g)
		g.Expect(pods).To(HaveLen(replicas))
		for _, p := range pods {
			g.Expect(podutils.IsPodReady(&p)).To(BeTrue(), "pod %s ready", p.Name)
		}
		g.Expect(cluster.ServiceBackends(f.ns, "edge", 8080)).To(HaveLen(replicas))
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	return pods
}

// livePods lists the fleet's pods that are not being deleted, by name.
func (f *fleet) livePods(ctx context.Context, g Gomega) []corev1.Pod {
	var list corev1.PodList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(f.ns),
		client.MatchingLabels{cachev1alpha1.LabelCacheProxy: "edge"})).To(Succeed())
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp.IsZero() {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

func (f *fleet) pod(ctx context.Context, g Gomega, name string) *corev1.Pod {
	var p corev1.Pod
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &p)).To(Succeed())
	return &p
}

func names(pods []corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// serviceAddress is the Service's ClusterIP:8080, where users send traffic.
func (f *fleet) serviceAddress(ctx context.Context) string {
	GinkgoHelper()
	var addr string
	Eventually(func() error {
		var err error
		addr, err = cluster.ServiceAddress(f.ns, "edge", 8080)
		return err
	}).WithContext(ctx).Should(Succeed())
	return addr
}

// pause freezes a pod's proxy (SIGSTOP): it accepts connections and
// answers nothing, as a hung process. The spec's cleanup resumes it.
func (f *fleet) pause(pod string) {
	GinkgoHelper()
	Expect(cluster.PausePod(f.ns, pod)).To(Succeed())
	DeferCleanup(func() { _ = cluster.ResumePod(f.ns, pod) })
}

// purge reads a Purge back with the client.
func (f *fleet) purge(ctx context.Context, g Gomega, name string) *cachev1alpha1.Purge {
	var p cachev1alpha1.Purge
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &p)).To(Succeed())
	return &p
}

// waitPurge is `kubectl wait --for=condition=<cond> purge/<name>`.
func (f *fleet) waitPurge(ctx context.Context, name, cond string) *cachev1alpha1.Purge {
	GinkgoHelper()
	f.mustKubectl(ctx, "", "wait", "--for=condition="+cond, "purge/"+name, "--timeout=90s")
	return f.purge(ctx, Default, name)
}

// podStatus returns a Purge's entry for one pod.
func podStatus(g Gomega, p *cachev1alpha1.Purge, pod string) cachev1alpha1.PodPurgeStatus {
	for _, s := range p.Status.Pods {
		if s.Name == pod {
			return s
		}
	}
	g.Expect(p.Status.Pods).To(ContainElement(HaveField("Name", pod)), "purge %s has no entry for pod %s", p.Name, pod)
	return cachev1alpha1.PodPurgeStatus{}
}

// targetNames are the pods a Purge chose, by name.
func targetNames(p *cachev1alpha1.Purge) []string {
	out := make([]string, 0, len(p.Status.Pods))
	for _, s := range p.Status.Pods {
		out = append(out, s.Name)
	}
	return out
}

// reply is what a client got from the cache.
type reply struct {
	Status      int
	Version     int    // X-Origin-Version: which render of the URL this is
	Release     string // X-Origin-Release: the origin's release, if it has one
	CacheStatus string // the Cache-Status header
	Body        string
}

func (r reply) String() string {
	return fmt.Sprintf("%d version=%d Cache-Status=%q", r.Status, r.Version, r.CacheStatus)
}

// get requests path from the cache at addr (a pod's IP:8080 or the
// Service's ClusterIP:8080) for the served host.
func get(ctx context.Context, addr, path string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return reply{}, err
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{Status: resp.StatusCode, CacheStatus: resp.Header.Get("Cache-Status"), Release: resp.Header.Get("X-Origin-Release"), Body: string(body)}
	if v := resp.Header.Get("X-Origin-Version"); v != "" {
		if r.Version, err = strconv.Atoi(v); err != nil {
			return r, fmt.Errorf("X-Origin-Version %q: %w", v, err)
		}
	}
	return r, nil
}

func mustGet(ctx context.Context, addr, path string) reply {
	GinkgoHelper()
	r, err := get(ctx, addr, path)
	Expect(err).NotTo(HaveOccurred(), "GET %s%s", addr, path)
	GinkgoWriter.Printf("GET %s%s: %s\n", addr, path, r)
	return r
}

// getAnswered is GET path from addr, sent again while it gets no answer
// at all, for at most a minute. A Service's address needs it: kube-proxy
// writes a new Service's rules a moment after its EndpointSlice lists the
// pods (see expectServiceServes). Any answer, whatever its status, ends it.
func getAnswered(ctx context.Context, addr, path string) reply {
	GinkgoHelper()
	var r reply
	Eventually(func() (err error) {
		r, err = get(ctx, addr, path)
		return err
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(20*time.Millisecond).Should(Succeed(), "GET %s%s", addr, path)
	GinkgoWriter.Printf("GET %s%s: %s\n", addr, path, r)
	return r
}

// podAddr is a pod's public address: the pods listen on their own IP.
func podAddr(p corev1.Pod) string { return net.JoinHostPort(p.Status.PodIP, "8080") }

// versions records, per pod then per path, which version a pod stored.
type versions map[string]map[string]int

// warm fills the cache of every pod with paths, addressing each pod
// directly, checks that each pod now answers from its cache, and returns
// the version each one stored.
func warm(ctx context.Context, pods []corev1.Pod, paths ...string) versions {
	GinkgoHelper()
	v := versions{}
	for _, p := range pods {
		v[p.Name] = map[string]int{}
		for _, path := range paths {
			first := mustGet(ctx, podAddr(p), path)
			Expect(first.Status).To(Equal(http.StatusOK), "first GET %s on %s", path, p.Name)
			Expect(first.CacheStatus).To(ContainSubstring(csMiss), "first GET %s on %s", path, p.Name)
			Expect(first.CacheStatus).To(ContainSubstring(csStored), "first GET %s on %s", path, p.Name)
			second := mustGet(ctx, podAddr(p), path)
			Expect(second.CacheStatus).To(HavePrefix(csHit), "second GET %s on %s", path, p.Name)
			Expect(second.Version).To(Equal(first.Version), "second GET %s on %s", path, p.Name)
			v[p.Name][path] = first.Version
		}
	}
	return v
}

// expectMiss checks that the pod no longer had path: the request went to
// the origin and stored a newer version than before.
func expectMiss(ctx context.Context, p corev1.Pod, path string, before versions) reply {
	GinkgoHelper()
	r := mustGet(ctx, podAddr(p), path)
	Expect(r.Status).To(Equal(http.StatusOK), "GET %s on %s", path, p.Name)
	Expect(r.CacheStatus).To(ContainSubstring(csMiss), "GET %s on %s: purged, so a miss", path, p.Name)
	Expect(r.CacheStatus).To(ContainSubstring(csStored), "GET %s on %s", path, p.Name)
	Expect(r.Version).To(BeNumerically(">", before[p.Name][path]), "GET %s on %s: a new render", path, p.Name)
	return r
}

// expectHit checks that the pod still serves the version it stored.
func expectHit(ctx context.Context, p corev1.Pod, path string, before versions) {
	GinkgoHelper()
	r := mustGet(ctx, podAddr(p), path)
	Expect(r.CacheStatus).To(HavePrefix(csHit), "GET %s on %s: not purged, so a hit", path, p.Name)
	Expect(r.Version).To(Equal(before[p.Name][path]), "GET %s on %s: the version stored before", path, p.Name)
}

// podLogPaths lists the log file of every pod in ns, for failure reports.
func podLogPaths(ctx context.Context, ns string) []string {
	var list corev1.PodList
	if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, p := range list.Items {
		path, err := cluster.PodLogPath(ns, p.Name)
		if err != nil {
			path = err.Error()
		}
		out = append(out, p.Name+": "+path)
	}
	return out
}
