package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
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

// firstLoads is how many first visits of the dashboard the spec times,
// each followed by one of the baseline page: one is noise on a shared
// machine, and the baseline, loaded under the same load, says how much of
// a time is the machine's. tracedLoads more of each are traced (tracing
// slows them).
const (
	firstLoads  = 15
	tracedLoads = 3
)

// baselinePage is the least a page can be: one line of text, no style, no
// script. What the browser takes to paint it on this machine at this
// moment is the floor under any page's first paint.
const baselinePage = "<!doctype html><title>Baseline</title><p>Baseline page.</p>"

// serveBaseline serves baselinePage on a loopback port until the spec
// ends, and returns its URL.
func serveBaseline() string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, baselinePage)
	}))
	DeferCleanup(srv.Close)
	return srv.URL + "/"
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted.
func percentile(sorted []float64, p float64) float64 {
	return sorted[int(math.Ceil(p/100*float64(len(sorted))))-1]
}

// paintTimes is a series of first contentful paints, in ms.
type paintTimes []float64

func (pt paintTimes) String() string {
	s := slices.Sorted(slices.Values(pt))
	return fmt.Sprintf("median %.0f ms, p90 %.0f ms (best %.0f, worst %.0f, %d loads)",
		percentile(s, 50), percentile(s, 90), s[0], s[len(s)-1], len(s))
}

func (pt paintTimes) median() float64 {
	return percentile(slices.Sorted(slices.Values(pt)), 50)
}

// firstPaint loads url in a new tab, cache disabled (a first visit), and
// returns its first contentful paint in ms from navigation start; loaded
// waits for the page to be loaded enough to close the tab.
func firstPaint(url string, loaded func(t *tab)) float64 {
	GinkgoHelper()
	t := newTab()
	// An open dashboard keeps working (its streams): close it before the
	// next load, whose renderer may be the same process.
	defer t.close()
	t.disableCache()
	t.navigate(url)
	loaded(t)
	// Chromium reports a paint once the frame is presented, which on a
	// loaded machine may come after the page is idle.
	Eventually(t.evalFunc(`performance.getEntriesByName("first-contentful-paint").length`)).Should(BeNumerically("==", 1))
	return t.eval(`performance.getEntriesByName("first-contentful-paint")[0].startTime`).(float64)
}

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

// bytesOf is the bytes received for url, headers included.
func (tr *transfer) bytesOf(url string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var sum float64
	for id, u := range tr.urls {
		if u == url {
			sum += tr.finished[id] + tr.open[id]
		}
	}
	return int(sum)
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
	It("transfers under 300,000 bytes until idle and paints the first screen about as soon as a one-line page", func() {
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
		baseline := serveBaseline()
		var report strings.Builder
		fmt.Fprintf(&report, "machine load (1, 5, 15 min): %s\n", loadAverage())

		// The first visit's bytes, until the page is idle: History shows
		// the 40 Purges, the namespaces and the CacheProxies arrived, and
		// no request is in flight but the History stream.
		idle := func(t *tab) {
			Eventually(t.rows("History")).Should(HaveLen(40))
			Eventually(t.evalFunc(`document.querySelector("select[aria-describedby]").value`)).Should(Equal("edge"))
			Eventually(t.evalFunc(`document.getElementById("user").textContent`)).Should(Equal("admin"))
		}
		t := newTab()
		var tr transfer
		tr.listen(t.ctx)
		t.disableCache()
		t.open(d.url)
		idle(t)
		Eventually(func() int { n, _ := tr.total(); return n }).Should(BeNumerically(">", 0))
		bytes, requests := tr.total()
		t.close()
		fmt.Fprintf(&report, "first load: %d bytes in %d requests until idle (headers included, cache disabled); the page itself %d bytes\n",
			bytes, requests, tr.bytesOf(d.url))

		// Fresh loads of the dashboard and of the baseline page in turn,
		// so both meet the same load.
		var dash, base paintTimes
		var shell, history []float64
		for range firstLoads {
			dash = append(dash, firstPaint(d.url, func(t *tab) {
				idle(t)
				mark := func(name string) float64 {
					return t.eval(fmt.Sprintf(`performance.getEntriesByName(%q)[0].startTime`, name)).(float64)
				}
				shell, history = append(shell, mark("dashboard-shell")), append(history, mark("history-rendered"))
			}))
			base = append(base, firstPaint(baseline, func(*tab) {}))
		}
		ratio := dash.median() / base.median()
		fmt.Fprintf(&report, "first contentful paint, dashboard (New purge and History): %s\n", dash)
		fmt.Fprintf(&report, "first contentful paint, baseline page (%d bytes, one line of text): %s\n", len(baselinePage), base)
		fmt.Fprintf(&report, "dashboard / baseline, medians: %.2f\n", ratio)
		slices.Sort(shell)
		slices.Sort(history)
		fmt.Fprintf(&report, "after it (from navigation start, medians): the app's scripts rendered the wizard %.0f ms, History with its 40 rows %.0f ms\n",
			percentile(shell, 50), percentile(history, 50))

		// What the renderer spent until the first paint, which the load
		// of the machine does not inflate as it does the wall time.
		var dashCPU, baseCPU []float64
		for load := range tracedLoads {
			t := newTab()
			t.disableCache()
			c := t.tracePaint(d.url, func() { Eventually(t.rows("History")).Should(HaveLen(40)) })
			t.close()
			t = newTab()
			t.disableCache()
			b := t.tracePaint(baseline, nil)
			t.close()
			dashCPU, baseCPU = append(dashCPU, c.MainThreadCPU), append(baseCPU, b.MainThreadCPU)
			fmt.Fprintf(&report, "traced load %d: dashboard paints at %.0f ms, its renderer's main thread ran %d tasks before: %.1f ms of CPU in %.0f ms; "+
				"baseline paints at %.0f ms after %d tasks, %.1f ms of CPU in %.0f ms\n",
				load+1, c.FCP, c.Tasks, c.MainThreadCPU, c.MainThreadWall, b.FCP, b.Tasks, b.MainThreadCPU, b.MainThreadWall)
		}
		slices.Sort(dashCPU)
		slices.Sort(baseCPU)
		fmt.Fprintf(&report, "renderer main-thread CPU before the first contentful paint, medians of %d traced loads: dashboard %.1f ms, baseline %.1f ms\n",
			tracedLoads, percentile(dashCPU, 50), percentile(baseCPU, 50))
		fmt.Fprintf(&report, "machine load at the end (1, 5, 15 min): %s\n", loadAverage())
		GinkgoWriter.Print(report.String())
		AddReportEntry("first load", report.String())
		Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(stateDir, "first-load.txt"), []byte(report.String()), 0o644)).To(Succeed())

		Expect(bytes).To(BeNumerically("<", maxFirstLoadBytes))
		// The goal is a paint under 200 ms, about twice the baseline's on
		// a quiet 2-core machine. Times are reported, not asserted: under
		// load both pages are slower, the dashboard more (1.4 to 3.0 times
		// the baseline at load averages of 14 to 58), and a bound loose
		// enough for that catches nothing while it can still fail on a
		// machine busier still.
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
