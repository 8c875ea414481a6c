package dashboard_test

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A first contentful paint in milliseconds of wall time says as much about
// the machine's load as about the page: on a shared machine the renderer
// waits for a core. What the page costs is the renderer's main thread's
// CPU time until that paint, which Chromium's trace gives (the thread time
// of each task it runs).

// paintCost is what a traced load of the page cost until its first
// contentful paint.
type paintCost struct {
	// FCP is the first contentful paint, in ms from navigation start.
	FCP float64
	// MainThreadCPU is the CPU time the renderer's main thread spent
	// on its tasks until then, in ms; MainThreadWall is their wall time.
	MainThreadCPU, MainThreadWall float64
	// Tasks is how many tasks it ran.
	Tasks int
}

// traceEvent is the part of a Chromium trace event read here.
type traceEvent struct {
	Name string  `json:"name"`
	Cat  string  `json:"cat"`
	Ph   string  `json:"ph"`
	Pid  int     `json:"pid"`
	Tid  int     `json:"tid"`
	Ts   float64 `json:"ts"`   // µs
	Dur  float64 `json:"dur"`  // µs of wall time
	TDur float64 `json:"tdur"` // µs of thread (CPU) time
	Args struct {
		Name string `json:"name"` // of a thread_name metadata event
		Data struct {
			DocumentLoaderURL string `json:"documentLoaderURL"`
			NavigationID      string `json:"navigationId"`
		} `json:"data"`
	} `json:"args"`
}

// tracePaint loads url in t with Chromium's tracing on, and reads from the
// trace what the load cost until its first contentful paint. done waits
// for the page to be loaded enough to stop tracing (nil: its paint is
// enough).
func (t *tab) tracePaint(url string, done func()) paintCost {
	GinkgoHelper()
	var mu sync.Mutex // guards events
	var events []traceEvent
	complete := make(chan struct{})
	Expect(chromedp.Listen(t.ctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			defer mu.Unlock()
			for _, v := range e.Value {
				var te traceEvent
				if json.Unmarshal(v, &te) == nil {
					events = append(events, te)
				}
			}
		case *tracing.EventTracingComplete:
			close(complete)
		}
	})).To(Succeed())
	_, err := chromedp.Call(t.ctx, tracing.Start, tracing.StartParams{TraceConfig: &tracing.TraceConfig{
		// Without devtools.timeline, Chromium 156 fails the load with
		// net::ERR_NETWORK_CHANGED.
		IncludedCategories: []string{"devtools.timeline", "toplevel", "loading", "blink.user_timing"},
	}})
	Expect(err).NotTo(HaveOccurred())
	t.navigate(url)
	if done != nil {
		done()
	}
	// Chromium reports a paint once the frame is presented, which on a
	// loaded machine may come after the page is idle: trace until then.
	Eventually(t.evalFunc(`performance.getEntriesByName("first-contentful-paint").length`)).Should(BeNumerically("==", 1))
	_, err = chromedp.Call(t.ctx, tracing.End, cdp.Empty{})
	Expect(err).NotTo(HaveOccurred())
	Eventually(complete).Should(BeClosed())
	mu.Lock()
	defer mu.Unlock()
	return paintCostOf(events, url)
}

// paintCostOf reads a trace: the navigation to url, its first contentful
// paint, and the tasks of the renderer's main thread between the two.
func paintCostOf(events []traceEvent, url string) paintCost {
	GinkgoHelper()
	type thread struct{ pid, tid int }
	var start, fcp *traceEvent
	for i, e := range events {
		if e.Name == "navigationStart" && e.Args.Data.DocumentLoaderURL == url {
			start = &events[i]
		}
	}
	Expect(start).NotTo(BeNil(), "the trace has the navigation to %s", url)
	for i, e := range events {
		if e.Name == "firstContentfulPaint" && e.Args.Data.NavigationID == start.Args.Data.NavigationID {
			fcp = &events[i]
		}
	}
	Expect(fcp).NotTo(BeNil(), "the trace has the first contentful paint")
	main := thread{start.Pid, start.Tid}
	var tasks []traceEvent
	for _, e := range events {
		if e.Cat == "toplevel" && e.Ph == "X" && e.Name == "ThreadControllerImpl::RunTask" &&
			(thread{e.Pid, e.Tid}) == main && e.Ts >= start.Ts && e.Ts < fcp.Ts {
			tasks = append(tasks, e)
		}
	}
	// A task may run others inside it (a nested run loop): count the
	// outermost only.
	slices.SortFunc(tasks, func(a, b traceEvent) int { return cmp.Compare(a.Ts, b.Ts) })
	cost := paintCost{FCP: (fcp.Ts - start.Ts) / 1000}
	var end float64
	for _, e := range tasks {
		if e.Ts < end {
			continue
		}
		end = e.Ts + e.Dur
		// A task still running at the paint counts up to it, its CPU
		// time in proportion.
		wall, cpu := e.Dur, e.TDur
		if end > fcp.Ts && e.Dur > 0 {
			wall = fcp.Ts - e.Ts
			cpu *= wall / e.Dur
		}
		cost.MainThreadCPU += cpu / 1000
		cost.MainThreadWall += wall / 1000
		cost.Tasks++
	}
	return cost
}
