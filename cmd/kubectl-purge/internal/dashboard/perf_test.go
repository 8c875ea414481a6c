package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// maxFirstLoadBytes bounds what the first load of the page transfers.
const maxFirstLoadBytes = 300_000

// firstLoads is how many first visits the spec times: one is noise on a
// shared machine. tracedLoads more are traced (tracing slows them).
const (
	firstLoads  = 5
	tracedLoads = 3
)

// loadAverage is the machine's load average, as uptime prints it, for the
// report beside the times it explains.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// transfer counts the bytes a tab received, per request, headers
// included, as the DevTools protocol reports them: a finished request's
// encodedDataLength, and for one still open (the event streams) its
// headers plus the data received so far.
type transfer struct {
	mu       sync.Mutex // guards the maps
	finished map[network.RequestID]float64
	open     map[network.RequestID]float64
	urls     map[network.RequestID]string
}

func (tr *transfer) listen(ctx context.Context) {
	GinkgoHelper()
	tr.finished, tr.open, tr.urls = map[network.RequestID]float64{}, map[network.RequestID]float64{}, map[network.RequestID]string{}
	Expect(chromedp.Listen(ctx, func(ev any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			tr.urls[e.RequestID] = e.Request.URL
		case *network.EventResponseReceived:
			tr.open[e.RequestID] += e.Response.EncodedDataLength
		case *network.EventDataReceived:
			tr.open[e.RequestID] += float64(e.EncodedDataLength)
		case *network.EventLoadingFinished:
			tr.finished[e.RequestID] = e.EncodedDataLength
			delete(tr.open, e.RequestID)
		}
	})).To(Succeed())
}

// total is the bytes received so far and the number of requests.
func (tr *transfer) total() (bytes int, requests int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var sum float64
	for _, n := range tr.finished {
		sum += n
	}
	for _, n := range tr.open {
		sum += n
	}
	return int(sum), len(tr.urls)
}

// disableCache makes the tab's loads first visits.
func (t *tab) disableCache() {
	GinkgoHelper()
	_, err := chromedp.Call(t.ctx, network.Enable, network.EnableParams{})
	Expect(err).NotTo(HaveOccurred())
	_, err = chromedp.Call(t.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("kubectl purge dashboard's first load", func() {
	It("transfers under 300,000 bytes until idle and renders the first screen quickly", func() {
		ns := newNamespace()
		newFleet(ns, "edge", 3)
		ctx := context.Background()
		for i := range 40 {
			Expect(k8sClient.Create(ctx, &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("purge-%02d", i)},
				Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
					URLs: []string{fmt.Sprintf("https://www.example.com/page/%d", i)}},
			})).To(Succeed())
		}
		d := startDashboard(adminKubeconfig, ns)
		// Each load is a new tab with the cache disabled: a first visit.
		var report strings.Builder
		fmt.Fprintf(&report, "machine load (1, 5, 15 min): %s\n", loadAverage())
		var fcps []float64
		var bytes int
		for load := range firstLoads {
			t := newTab()
			var tr transfer
			tr.listen(t.ctx)
			t.disableCache()
			t.open(d.url)
			// Idle: History shows the 40 Purges, the namespaces and the
			// CacheProxies arrived, and no request is in flight but the
			// History stream.
			Eventually(t.rows("History")).Should(HaveLen(40))
			Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
			Eventually(t.evalFunc(`document.getElementById("user").textContent`)).Should(Equal("admin"))
			Eventually(func() int { n, _ := tr.total(); return n }).Should(BeNumerically(">", 0))
			n, requests := tr.total()
			mark := func(name string) float64 {
				v, err := chromedp.Run(t.ctx, chromedp.Evaluate[float64](fmt.Sprintf(`performance.getEntriesByName(%q)[0].startTime`, name)))
				Expect(err).NotTo(HaveOccurred(), name)
				return v
			}
			nav := func(field string) float64 {
				v, err := chromedp.Run(t.ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].`+field))
				Expect(err).NotTo(HaveOccurred(), field)
				return v
			}
			// Chromium reports a paint once the frame is presented, which on a
			// loaded machine may come after the page is idle.
			Eventually(t.evalFunc(`performance.getEntriesByName("first-contentful-paint").length`)).Should(BeNumerically("==", 1))
			fcp := mark("first-contentful-paint")
			fcps = append(fcps, fcp)
			if load == 0 {
				bytes = n
				fmt.Fprintf(&report, "first load: %d bytes in %d requests (headers included, cache disabled)\n", n, requests)
			}
			fmt.Fprintf(&report, "load %d: first contentful paint %.0f ms (page requested %.0f ms, received %.0f ms, parsed %.0f ms); "+
				"app shell rendered %.0f ms; History with 40 rows %.0f ms (from navigation start)\n",
				load+1, fcp, nav("requestStart"), nav("responseEnd"), nav("domInteractive"), mark("dashboard-shell"), mark("history-rendered"))
			// An open dashboard keeps working (its streams): close it
			// before the next load, whose renderer may be the same process.
			t.close()
		}
		slices.Sort(fcps)
		fmt.Fprintf(&report, "first contentful paint over %d loads: best %.0f ms, median %.0f ms, worst %.0f ms\n",
			len(fcps), fcps[0], fcps[len(fcps)/2], fcps[len(fcps)-1])
		// What the renderer spent until the first paint, which the load
		// of the machine does not inflate as it does the wall time.
		var cpus []float64
		for load := range tracedLoads {
			t := newTab()
			t.disableCache()
			c := t.tracePaint(d.url, func() { Eventually(t.rows("History")).Should(HaveLen(40)) })
			t.close()
			cpus = append(cpus, c.MainThreadCPU)
			fmt.Fprintf(&report, "traced load %d: first contentful paint %.0f ms; before it the renderer's main thread ran %d tasks: %.1f ms of CPU in %.0f ms of wall time\n",
				load+1, c.FCP, c.Tasks, c.MainThreadCPU, c.MainThreadWall)
		}
		slices.Sort(cpus)
		fmt.Fprintf(&report, "renderer main-thread CPU before the first contentful paint over %d traced loads: median %.1f ms\n", len(cpus), cpus[len(cpus)/2])
		fmt.Fprintf(&report, "machine load at the end (1, 5, 15 min): %s\n", loadAverage())
		GinkgoWriter.Print(report.String())
		AddReportEntry("first load", report.String())
		Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(stateDir, "first-load.txt"), []byte(report.String()), 0o644)).To(Succeed())

		Expect(bytes).To(BeNumerically("<", maxFirstLoadBytes))
		// The goal is 200 ms on a desktop; shared CI machines under load
		// are slower, so the bound checked here only catches regressions
		// by orders of magnitude. The figure is in the report.
		Expect(fcps[len(fcps)/2]).To(BeNumerically("<", 3000))
	})
})

// bigHistory is the size of history the dashboard must stay fast on.
const bigHistory = 5000

var _ = Describe("kubectl purge dashboard on a long history", func() {
	It("lists 5,000 Purges, a page at a time, and filters them as the user types", func() {
		ns := newNamespace()
		// Purges of a CacheProxy that does not exist: the operator only
		// marks them Pending, so the API server, not the fan-out, is
		// what the spec loads.
		ctx := context.Background()
		name := func(i int) string { return fmt.Sprintf("purge-%04d", i) }
		inParallel(bigHistory, func(i int) {
			Expect(k8sClient.Create(ctx, &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)},
				Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "absent"},
					URLs: []string{fmt.Sprintf("https://www.example.com/page/%d", i)}},
			})).To(Succeed())
		})
		// The operator works through every one of them: delete them
		// afterwards, so the specs that follow do not queue behind them.
		DeferCleanup(func() {
			inParallel(bigHistory, func(i int) {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &cachev1alpha1.Purge{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)},
				}))).To(Succeed())
			})
		})

		start := time.Now()
		var list cachev1alpha1.PurgeList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		listed := time.Since(start).Round(time.Millisecond)
		Expect(list.Items).To(HaveLen(bigHistory))
		start = time.Now()
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns), client.Limit(100))).To(Succeed())
		firstListed := time.Since(start).Round(time.Millisecond)
		Expect(list.Items).To(HaveLen(100))

		d := startDashboard(adminKubeconfig, ns)
		t := newTab()
		t.open(d.url)
		// The time to the first page is measured and reported below; the
		// wait itself only needs to outlast a loaded CI machine (seen: 30 s
		// were not enough with the race detector at a load average of 47).
		Eventually(t.text(".pager .count")).WithTimeout(3 * time.Minute).Should(Equal("1–50 of 5,000"))
		Expect(t.rows("History")()).To(HaveLen(50))
		// The first page of the table came with the first page of the
		// list, before the rest.
		requested := t.eval(`performance.getEntriesByName("history-requested")[0].startTime`).(float64)
		firstPage := t.eval(`performance.getEntriesByName("history-first-page")[0].startTime`).(float64)
		loaded := t.eval(`performance.getEntriesByName("history-rendered")[0].startTime`).(float64)
		Expect(firstPage).To(BeNumerically("<", loaded))

		// Filtering and rendering run in the input event's handler: time it
		// in the page.
		filtered := t.eval(`(() => {
			const box = document.querySelector("input[type=search]"), t0 = performance.now();
			box.value = "page/4321";
			box.dispatchEvent(new Event("input"));
			return performance.now() - t0; })()`).(float64)
		Eventually(t.rows("History")).Should(ConsistOf(hasText("purge-4321")))
		t.fill("Search", "")
		t.click("button", "Older")
		Eventually(t.text(".pager .count")).Should(Equal("51–100 of 5,000"))

		report := fmt.Sprintf("History of %d Purges: first page of 50 rows rendered %.0f ms after navigation start (%.0f ms after the page asked for the list), "+
			"all of them %.0f ms (listing them from the API server in one request took %s, the first 100 %s; machine load %s); "+
			"filtering them as a search is typed and rendering the result takes %.1f ms\n",
			bigHistory, firstPage, firstPage-requested, loaded, listed, firstListed, loadAverage(), filtered)
		GinkgoWriter.Print(report)
		AddReportEntry("long history", report)
		// Ginkgo shuffles top-level containers: this spec may run first.
		Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
		f, err := os.OpenFile(filepath.Join(stateDir, "first-load.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteString(report)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		// 10 to 20 ms on a quiet machine, 465 ms seen at a load average of
		// 48: the bound only catches a filter that became quadratic; the
		// figure itself is in the report.
		Expect(filtered).To(BeNumerically("<", 3000), "a keystroke in the search box re-renders at once")
	})
})

// inParallel runs f(0) to f(n-1) on 16 goroutines and waits for them.
func inParallel(n int, f func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			defer GinkgoRecover()
			for i := range work {
				f(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}
