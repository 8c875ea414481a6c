package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubectl/pkg/util/podutils"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// The specs of this file break the node under a running Purge: its kubelet
// and its container runtime restart, as during a node upgrade, and a cache
// meets the memory limit the kernel enforces. Each checks that the Purge
// still ends right and that nothing else was lost: the same container
// processes, no restart, the objects not purged still cached.
var _ = Describe("Purging through node faults", func() {
	It("completes when the kubelet restarts mid-purge; the containers and their caches live on", func(ctx SpecContext) {
		purgeThroughRestart(ctx, "kubelet-restart", cluster.RestartKubelet)
	})

	It("completes when containerd restarts mid-purge; the containers run on under their shims", func(ctx SpecContext) {
		purgeThroughRestart(ctx, "containerd-restart", cluster.RestartContainerd)
	})

	It("keeps a cache filled eight times beyond its maxSize under its memory limit, without an OOM kill", func(ctx SpecContext) {
		const (
			maxSize   = 16 << 20
			limit     = "96Mi"
			blobSize  = 512 << 10
			blobCount = 8 * maxSize / blobSize
		)
		blobs := startBlobOrigin(ctx, blobSize)
		yaml := strings.Replace(cacheProxyYAML(blobs, 1), "maxSize: 256Mi",
			fmt.Sprintf("maxSize: %d\n  resources:\n    limits:\n      memory: %s", maxSize, limit), 1)
		f := newFleetFrom(ctx, "memory-limit", nil, yaml, 1)
		pod := f.pods[0]
		Expect(pod.Spec.Containers[0].Resources.Limits.Memory().String()).To(Equal(limit))

		// 128 MiB through a cache of 16 MiB in a container of 96 MiB.
		for i := range blobCount {
			r := mustGetQuiet(ctx, podAddr(pod), blobPath(i))
			Expect(r.Status).To(Equal(http.StatusOK), blobPath(i))
		}
		stats := proxyMetrics(ctx, pod)
		Expect(stats["cacheproxy_evictions_total"]).To(BeNumerically(">", 0), "the cache evicted to stay under maxSize")
		Expect(stats["cacheproxy_bytes"]).To(BeNumerically("<=", maxSize))
		Expect(stats["cacheproxy_max_bytes"]).To(BeEquivalentTo(maxSize))
		Expect(mustGet(ctx, podAddr(pod), blobPath(0)).CacheStatus).To(ContainSubstring(csMiss), "the first blob was evicted")
		last := mustGet(ctx, podAddr(pod), blobPath(blobCount-1))
		Expect(last.CacheStatus).To(HavePrefix(csHit), "the last blob is still cached")

		// A Purge of everything still reaches the pod and ends right.
		f.apply(ctx, purgeFile("all-blobs", []string{"/blob/"}, "mode: ban"))
		p := f.waitPurge(ctx, "all-blobs", cachev1alpha1.PurgeConditionComplete)
		expectAllSucceeded(p, f.pods)
		Expect(p.Status.ObjectsMatched).To(BeNumerically(">", 0))
		Expect(p.Status.ObjectsMatched).To(BeNumerically("<=", maxSize/blobSize), "no more than maxSize holds")
		Expect(mustGet(ctx, podAddr(pod), blobPath(blobCount-1)).CacheStatus).To(ContainSubstring(csMiss))

		// The kernel's word: the container held its limit, nothing was
		// OOM-killed, the container never restarted.
		m, err := cluster.ContainerMemory(f.ns, pod.Name, pod.Spec.Containers[0].Name)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("cache container memory", fmt.Sprintf("limit %d MiB, peak %.1f MiB, now %.1f MiB, OOM kills %d",
			m.Limit>>20, float64(m.Peak)/(1<<20), float64(m.Usage)/(1<<20), m.OOMKills))
		want := resource.MustParse(limit)
		Expect(m.Limit).To(Equal(want.Value()))
		Expect(m.OOMKills).To(BeZero())
		Expect(m.Peak).To(BeNumerically(">", maxSize), "the cache filled up")
		now := f.pod(ctx, Default, pod.Name)
		Expect(restartCount(now)).To(BeZero())
		Expect(now.Status.ContainerStatuses[0].LastTerminationState.Terminated).To(BeNil(), "never terminated, OOMKilled or otherwise")
	})
})

// purgeThroughRestart runs a Purge on a fleet of three whose first pod
// hangs, restarts a node daemon while the Purge waits for that pod, then
// thaws the pod: the Purge completes 3/3, every pod keeps its container
// process and the object the Purge did not name.
func purgeThroughRestart(ctx SpecContext, ns string, restart func(context.Context) error) {
	GinkgoHelper()
	f := newFleet(ctx, ns, 3)
	purged, kept := "/img/"+ns+".svg", "/img/"+ns+"-kept.svg"
	before := warm(ctx, f.pods, purged, kept)
	pids := map[string]int{}
	for _, p := range f.pods {
		procs, err := cluster.PodProcesses(f.ns, p.Name)
		Expect(err).NotTo(HaveOccurred())
		pids[p.Name] = procs["cacheproxy"]
	}
	slow, others := f.pods[0], f.pods[1:]

	f.pause(slow.Name)
	f.apply(ctx, purgeFile(ns, []string{purged}))
	Eventually(func(g Gomega) {
		p := f.purge(ctx, g, ns)
		g.Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeRunning))
		g.Expect(podStatus(g, p, slow.Name).Attempts).To(BeNumerically(">=", 1))
		for _, o := range others {
			g.Expect(podStatus(g, p, o.Name).Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded))
		}
	}).WithContext(ctx).Should(Succeed())

	began := time.Now()
	Expect(restart(ctx)).To(Succeed())
	AddReportEntry("restart took", time.Since(began).Round(time.Millisecond).String())
	Expect(cluster.ResumePod(f.ns, slow.Name)).To(Succeed())

	p := f.waitPurge(ctx, ns, cachev1alpha1.PurgeConditionComplete)
	Expect(p.Status.Phase).To(Equal(cachev1alpha1.PurgeComplete))
	Expect(p.Status.Progress).To(Equal("3/3"))
	for _, pod := range f.pods {
		s := podStatus(Default, p, pod.Name)
		Expect(s.Phase).To(Equal(cachev1alpha1.PodPurgeSucceeded), pod.Name)
		Expect(s.Matched).To(BeEquivalentTo(1), "%s still held the object when the call reached it", pod.Name)
	}
	Expect(podStatus(Default, p, slow.Name).Attempts).To(BeNumerically(">=", 2), "the hung pod was retried")
	for _, pod := range f.pods {
		procs, err := cluster.PodProcesses(f.ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(procs["cacheproxy"]).To(Equal(pids[pod.Name]), "%s runs the same process", pod.Name)
		Eventually(func(g Gomega) {
			now := f.pod(ctx, g, pod.Name)
			g.Expect(restartCount(now)).To(BeZero())
			g.Expect(podutils.IsPodReady(now)).To(BeTrue())
		}).WithContext(ctx).Should(Succeed())
		expectMiss(ctx, pod, purged, before)
		expectHit(ctx, pod, kept, before)
	}
}

// startBlobOrigin serves /blob/<n>, size bytes each, cacheable for an hour,
// on the host's address as pods see it, until the spec ends. It returns
// the origin's URL.
func startBlobOrigin(ctx context.Context, size int) string {
	GinkgoHelper()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(cluster.HostIP().String(), "0"))
	Expect(err).NotTo(HaveOccurred())
	body := []byte(strings.Repeat("b", size))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /blob/{n}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(srv.Close)
	return "http://" + ln.Addr().String()
}

func blobPath(i int) string { return "/blob/" + strconv.Itoa(i) }

// mustGetQuiet is mustGet without the log line, for loops of requests.
func mustGetQuiet(ctx context.Context, addr, path string) reply {
	GinkgoHelper()
	r, err := get(ctx, addr, path)
	Expect(err).NotTo(HaveOccurred(), "GET %s%s", addr, path)
	return r
}

// proxyMetrics reads the unlabelled series of a pod's cacheproxy metrics
// (its admin port, which needs no token for them).
func proxyMetrics(ctx context.Context, pod corev1.Pod) map[string]float64 {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(admin.DefaultPort))+admin.MetricsPath, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := httpClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = n
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}
