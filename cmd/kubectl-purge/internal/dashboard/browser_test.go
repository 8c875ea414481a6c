package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The browser is Debian's chromium (hack/install-chromium.sh installs it;
// make test runs that), started once for the suite on first use, headless,
// with a fresh profile. Each spec gets its own tab.

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	skip   string
}

// chromiumPath finds Chromium: $CHROMIUM, else the usual names on PATH.
func chromiumPath() string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() {
	path := chromiumPath()
	if path == "" {
		browser.skip = "Chromium is not installed and could not be (hack/install-chromium.sh, which make test runs, installs Debian's chromium package): the browser specs are skipped"
		return
	}
	profile, err := os.MkdirTemp("", "dashboard-chromium-")
	Expect(err).NotTo(HaveOccurred())
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1360, 860),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	Expect(chromedp.Do(ctx)).To(Succeed(), "starting %s", path)
	browser.ctx = ctx
	browser.cancel = func() {
		cancel()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	}
}

// stopBrowser ends the browser, if one was started.
func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// tab is one browser tab; exceptions thrown by the page's scripts fail the
// spec when it ends.
type tab struct {
	ctx context.Context
	// close closes the tab; the spec's end does, if nothing did before.
	close      context.CancelFunc
	mu         sync.Mutex // guards exceptions
	exceptions []string
}

// newTab opens a tab for the spec, or skips the spec without Chromium.
func newTab() *tab {
	GinkgoHelper()
	browser.once.Do(startBrowser)
	if browser.skip != "" {
		Skip(browser.skip)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx)
	t := &tab{ctx: ctx, close: cancel}
	Expect(chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			t.mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
			t.exceptions = append(t.exceptions, msg)
			t.mu.Unlock()
		}
	})).To(Succeed())
	t.run(chromedp.EmulateViewport(1360, 860))
	DeferCleanup(func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		Expect(t.exceptions).To(BeEmpty(), "the page's scripts threw")
		cancel()
	})
	return t
}

func (t *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	GinkgoHelper()
	Expect(chromedp.Do(t.ctx, steps...)).To(Succeed())
}

// open loads url and waits for the page's scripts to have run.
func (t *tab) open(url string) {
	GinkgoHelper()
	t.navigate(url)
	Eventually(t.evalFunc(`performance.getEntriesByName('dashboard-shell').length`)).Should(BeNumerically("==", 1))
}

// navigate loads url. A load that Chromium gave up because the machine's
// network changed (other work on a shared machine adds and removes
// interfaces) is tried again.
func (t *tab) navigate(url string) {
	GinkgoHelper()
	var err error
	Eventually(func() bool {
		err = chromedp.Do(t.ctx, chromedp.Navigate(url))
		var load *chromedp.LoadError
		return !errors.As(err, &load) || load.ErrorText != "net::ERR_NETWORK_CHANGED"
	}).Should(BeTrue(), "loading %s: the network keeps changing", url)
	Expect(err).NotTo(HaveOccurred(), "loading %s", url)
}

// eval evaluates a JavaScript expression in the page.
func (t *tab) eval(js string) any {
	GinkgoHelper()
	v, err := chromedp.Run(t.ctx, chromedp.Evaluate[any](js))
	Expect(err).NotTo(HaveOccurred(), js)
	return v
}

// await evaluates a JavaScript expression that gives a promise, and
// returns what the promise resolves to.
func (t *tab) await(js string) any {
	GinkgoHelper()
	v, err := chromedp.Run(t.ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	Expect(err).NotTo(HaveOccurred(), js)
	return v
}

func (t *tab) evalFunc(js string) func() any {
	return func() any {
		v, err := chromedp.Run(t.ctx, chromedp.Evaluate[any](js))
		if err != nil {
			return err.Error()
		}
		return v
	}
}

// text is the rendered text of the elements matching a CSS selector.
func (t *tab) text(selector string) func() string {
	return func() string {
		js := fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.innerText).join("\n")`, selector)
		s, err := chromedp.Run(t.ctx, chromedp.Evaluate[string](js))
		if err != nil {
			return err.Error()
		}
		return s
	}
}

// alerts is the text of every role="alert" region.
func (t *tab) alerts() func() string { return t.text(`[role="alert"]`) }

// byRole finds the elements the accessibility tree names exactly name
// with role role (what a screen reader announces).
func (t *tab) byRole(role, name string) []cdp.BackendNodeID {
	GinkgoHelper()
	doc, err := chromedp.Call(t.ctx, dom.GetDocument, dom.GetDocumentParams{})
	Expect(err).NotTo(HaveOccurred())
	res, err := chromedp.Call(t.ctx, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
		BackendNodeID: doc.Root.BackendNodeID, AccessibleName: name, Role: role,
	})
	Expect(err).NotTo(HaveOccurred())
	var ids []cdp.BackendNodeID
	for _, n := range res.Nodes {
		if !n.Ignored {
			ids = append(ids, n.BackendDOMNodeID)
		}
	}
	return ids
}

// one waits for exactly one element of role named name.
func (t *tab) one(role, name string) cdp.BackendNodeID {
	GinkgoHelper()
	var ids []cdp.BackendNodeID
	Eventually(func() []cdp.BackendNodeID { ids = t.byRole(role, name); return ids }).
		Should(HaveLen(1), "one %s named %q", role, name)
	return ids[0]
}

// call runs a JavaScript function with the element as this; the function
// returns true.
func (t *tab) call(id cdp.BackendNodeID, fn string, args ...any) {
	GinkgoHelper()
	obj, err := chromedp.Call(t.ctx, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: id})
	Expect(err).NotTo(HaveOccurred())
	ok, err := chromedp.Run(t.ctx, chromedp.CallFunctionOn[bool](fn, func(p *cdpruntime.CallFunctionOnParams) {
		p.ObjectID = obj.Object.ObjectID
	}, args...))
	Expect(err).NotTo(HaveOccurred(), fn)
	Expect(ok).To(BeTrue(), fn)
}

// click clicks the element of role named name.
func (t *tab) click(role, name string) {
	GinkgoHelper()
	t.call(t.one(role, name), `function() { this.scrollIntoView({block: "center"}); this.click(); return true; }`)
}

// fill types text into the textbox (or search box) named name, as a
// keyboard would (the input events the page listens to fire), replacing
// what it held.
func (t *tab) fill(name, text string) {
	GinkgoHelper()
	var id cdp.BackendNodeID
	Eventually(func() []cdp.BackendNodeID {
		ids := append(t.byRole("textbox", name), t.byRole("searchbox", name)...)
		if len(ids) == 1 {
			id = ids[0]
		}
		return ids
	}).Should(HaveLen(1), "one textbox named %q", name)
	if text == "" {
		t.call(id, `function() { this.focus(); this.value = ""; this.dispatchEvent(new Event("input", {bubbles: true})); return true; }`)
		return
	}
	t.call(id, `function() { this.focus(); this.select(); return true; }`)
	_, err := chromedp.Call(t.ctx, input.InsertText, input.InsertTextParams{Text: text})
	Expect(err).NotTo(HaveOccurred())
}

// choose selects value in the combobox named name.
func (t *tab) choose(name, value string) {
	GinkgoHelper()
	t.call(t.one("combobox", name), `function(v) { this.value = v || ""; this.dispatchEvent(new Event("change", {bubbles: true})); return true; }`, value)
}

// path is the page's location path.
func (t *tab) path() func() string {
	return func() string {
		s, err := chromedp.Run(t.ctx, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			return err.Error()
		}
		return s
	}
}

// stateDir is where the specs write screenshots and figures.
var stateDir = filepath.Join("..", "..", "..", "..", "test", ".state", "dashboard")

// screenshot writes the viewport, light and dark, to
// test/.state/dashboard/NAME-light.png and NAME-dark.png.
func (t *tab) screenshot(name string) {
	GinkgoHelper()
	Expect(os.MkdirAll(stateDir, 0o755)).To(Succeed())
	for _, scheme := range []string{"light", "dark"} {
		t.colorScheme(scheme)
		// Three quarters of the 1360x860 viewport: readable, and small
		// enough to commit for the README.
		shot, err := chromedp.Call(t.ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng,
			Clip:   &page.Viewport{Width: 1360, Height: 860, Scale: 0.75},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(stateDir, fmt.Sprintf("%s-%s.png", name, scheme)), shot.Data, 0o644)).To(Succeed())
	}
	t.colorScheme("light")
}

func (t *tab) colorScheme(scheme string) {
	GinkgoHelper()
	_, err := chromedp.Call(t.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	Expect(err).NotTo(HaveOccurred())
}

// rows is the text of each body row of the table captioned caption, its
// cells joined by " | ".
func (t *tab) rows(caption string) func() []string {
	return func() []string {
		js := fmt.Sprintf(`(() => { const c = [...document.querySelectorAll("caption")].find(c => c.innerText.trim() === %q);
			return c ? [...c.closest("table").tBodies[0].rows].map(r => [...r.cells].map(td => td.innerText.trim()).join(" | ")) : []; })()`, caption)
		rows, err := chromedp.Run(t.ctx, chromedp.Evaluate[[]string](js))
		if err != nil {
			return []string{err.Error()}
		}
		return rows
	}
}

// hasText matches a string containing every part.
func hasText(parts ...string) OmegaMatcher {
	ms := make([]OmegaMatcher, 0, len(parts))
	for _, p := range parts {
		ms = append(ms, ContainSubstring(p))
	}
	return SatisfyAll(ms...)
}

// dropFile drags the file at path from outside the browser onto the
// textbox named name and drops it there, as a user does from a file
// manager.
func (t *tab) dropFile(name, path string) {
	GinkgoHelper()
	id := t.one("textbox", name)
	t.call(id, `function() { this.scrollIntoView({block: "center"}); return true; }`)
	obj, err := chromedp.Call(t.ctx, dom.GetBoxModel, dom.GetBoxModelParams{BackendNodeID: id})
	Expect(err).NotTo(HaveOccurred())
	q := obj.Model.Content
	x, y := (q[0]+q[4])/2, (q[1]+q[5])/2
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{path}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		_, err := chromedp.Call(t.ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: x, Y: y, Data: data})
		Expect(err).NotTo(HaveOccurred(), string(typ))
	}
}
