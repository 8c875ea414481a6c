package demo

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// effect is what a Purge must visibly do to the objects it names.
type effect int

const (
	// dropped: the next request misses and gets a new version.
	dropped effect = iota
	// softened: the stale copy is still served, even with the origin
	// down; once the origin is back, a new version replaces it.
	softened
	// refetched: every pod already holds a new version; the next request
	// is a hit.
	refetched
)

// purgeStep is one Purge sample of the tour and what it must show.
type purgeStep struct {
	title  string
	story  []string // what happens and why, %[1]s is the first purged path
	sample string   // file in config/samples
	plugin []string // or: the arguments of `kubectl purge` (cmd/kubectl-purge) that create it
	name   string   // the Purge's metadata.name
	purged []string // paths (and queries) of the sample's URLs, or carrying its tag
	kept   []string // paths the Purge must not touch
	effect effect
}

// purgeSteps are the Purge samples in the order of config/samples'
// kustomization.
var purgeSteps = []purgeStep{
	{
		title: "Simple purge: drop an object from every pod now",
		story: []string{
			"The origin publishes a new %[1]s, but every pod keeps serving the copy",
			"it holds until that expires. A simple purge removes it from every pod.",
		},
		sample: "cache_v1alpha1_purge_simple.yaml",
		name:   "app-js",
		purged: []string{"/static/app.js", "/static/app.js?v=2"},
		effect: dropped,
	},
	{
		title: "Soft purge: fresh content without ever failing users",
		story: []string{
			"The home page %[1]s changes, and then the origin goes down. A soft purge marks",
			"the copies stale but keeps them: users get the stale page instead of an error,",
			"and each pod refreshes it in the background once the origin is back.",
		},
		sample: "cache_v1alpha1_purge_soft.yaml",
		name:   "home-soft",
		purged: []string{"/"},
		effect: softened,
	},
	{
		title: "Ban: invalidate everything under a URL prefix",
		story: []string{
			"All images change (a new design). A ban of https://www.example.com/img/",
			"invalidates every object under /img/, whatever its name; pages stay cached.",
		},
		sample: "cache_v1alpha1_purge_ban.yaml",
		name:   "images",
		purged: []string{"/img/logo.svg", "/img/product-1.svg"},
		kept:   []string{"/products/1"},
		effect: dropped,
	},
	{
		title: "Tags: purge every object that carries a surrogate key",
		story: []string{
			"Product 42 changes. Its page, its image and its JSON all came from the origin",
			"with Surrogate-Key: product-42, so one Purge of that tag reaches them all,",
			"whatever their URLs. Product 7 is not tagged and stays cached.",
		},
		sample: "cache_v1alpha1_purge_tags.yaml",
		name:   "product-42",
		purged: []string{"/products/42", "/img/product-42.svg", "/api/products/42"},
		kept:   []string{"/products/7"},
		effect: dropped,
	},
	{
		title: "Refetch: purge and warm up, so no user pays the miss",
		story: []string{
			"%[1]s changes. With refetch: true, every pod fetches the new version",
			"right after the purge: the next user gets a hit, already fresh.",
		},
		sample: "cache_v1alpha1_purge_refetch.yaml",
		name:   "prices-refetch",
		purged: []string{"/api/prices.json"},
		effect: refetched,
	},
}

// pluginStep purges with the kubectl plugin instead of a manifest; the
// tour runs it when the plugin is built (bin/kubectl-purge).
var pluginStep = purgeStep{
	title: "The kubectl purge plugin: the same, without writing YAML",
	story: []string{
		"kubectl purge (cmd/kubectl-purge) creates the same Purge object from the command",
		"line and, with --wait, follows it pod by pod. Product 3 changes:",
	},
	plugin: []string{"purge", cacheProxyName, "https://" + siteHost + "/products/3", "--name", "product-3", "--wait=60s"},
	name:   "product-3",
	purged: []string{"/products/3"},
	effect: dropped,
}

// byPod holds one answer per pod, in t.pods order.
type byPod []answer

// purge runs one Purge step: fill the caches, change the origin, apply the
// sample, show the Purge's status, then show and check the effect on
// every pod.
func (t *tour) purge(ctx context.Context, s purgeStep) error {
	purged, kept := s.purged, s.kept
	focus := purged[0]
	for _, line := range s.story {
		if strings.Contains(line, "%[1]s") {
			line = fmt.Sprintf(line, focus)
		}
		t.n.say("%s", line)
	}

	before, err := t.fill(ctx, append(slices.Clone(purged), kept...))
	if err != nil {
		return err
	}
	t.n.say("The origin changes %s:", strings.Join(purged, ", "))
	for _, p := range purged {
		if err := t.originControl(ctx, "/_origin/edit?path="+queryEscape(p)); err != nil {
			return err
		}
	}
	t.n.say("but users still get the cached copy (each pod fetched its own, so each has")
	t.n.say("its own version: %s):", versionList(before[focus]))
	if _, err := t.curl(ctx, focus); err != nil {
		return err
	}
	if s.effect == softened {
		t.n.say("Now the origin goes down:")
		if err := t.originControl(ctx, "/_origin/fail"); err != nil {
			return err
		}
		defer func() { t.env.origin.SetFailing(false) }() // whatever happens below
	}

	if s.plugin != nil {
		err := t.show(ctx, s.plugin...)
		if !t.check(err == nil, "kubectl purge --wait exited 0: the Purge is Complete", errString(err)) {
			return nil
		}
	} else {
		if err := t.apply(ctx, s.sample); err != nil {
			return err
		}
		if _, err := t.kubectlWait(ctx, "purge/"+s.name, "condition=Complete", 90*time.Second); err != nil {
			t.check(false, "Purge "+s.name+" Complete", err.Error())
			return t.show(ctx, "describe", "purge", s.name)
		}
	}
	t.checkPurgeStatus(ctx, s, len(purged))
	if err := t.show(ctx, "get", "purges"); err != nil {
		return err
	}
	if err := t.describe(ctx, s.name); err != nil {
		return err
	}

	switch s.effect {
	case dropped:
		return t.showDropped(ctx, purged, kept, before)
	case softened:
		return t.showSoftened(ctx, focus, before[focus])
	case refetched:
		return t.showRefetched(ctx, purged, before)
	}
	return nil
}

// fill requests each path from every pod until it is a hit, so each pod
// holds it, and returns what each pod then serves.
func (t *tour) fill(ctx context.Context, paths []string) (map[string]byPod, error) {
	held := map[string]byPod{}
	_, err := t.n.wait(ctx, "filling each pod's cache: "+strings.Join(paths, ", "), func(ctx context.Context) error {
		for _, path := range paths {
			held[path] = make(byPod, len(t.pods))
			for i, p := range t.pods {
				var err error
				if held[path][i], err = t.warm(ctx, p, path); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var notHeld []string
	for _, path := range paths {
		for i, a := range held[path] {
			if a.outcome() != outcomeHit || a.Status != http.StatusOK {
				notHeld = append(notHeld, fmt.Sprintf("%s on %s: %s", path, t.pods[i].name, a.short()))
			}
		}
	}
	t.check(len(notHeld) == 0, fmt.Sprintf("every pod holds %s (a hit)", strings.Join(paths, ", ")), strings.Join(notHeld, "; "))
	return held, nil
}

// warm requests path from a pod until the pod answers from its cache: the
// first request is a miss that stores the response, the next a hit.
func (t *tour) warm(ctx context.Context, p pod, path string) (answer, error) {
	var a answer
	for range 4 {
		var err error
		if a, err = t.web.get(ctx, p.addr(), path); err != nil || a.outcome() == outcomeHit {
			return a, err
		}
	}
	return a, nil
}

// originControl POSTs to the origin's control surface, shown as curl.
func (t *tour) originControl(ctx context.Context, path string) error {
	t.n.command(fmt.Sprintf("curl -X POST '%s%s'", t.env.originURL, path))
	return t.web.post(ctx, t.env.originURL+path)
}

// checkPurgeStatus checks the Purge's status says what kubectl showed:
// Complete, every target pod Succeeded, and the counts.
func (t *tour) checkPurgeStatus(ctx context.Context, s purgeStep, objects int) {
	var p cachev1alpha1.Purge
	if err := t.env.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: s.name}, &p); err != nil {
		t.check(false, "reading Purge "+s.name, err.Error())
		return
	}
	st := p.Status
	var problems []string
	if st.Phase != cachev1alpha1.PurgeComplete {
		problems = append(problems, "phase "+string(st.Phase))
	}
	if int(st.TargetPods) != len(t.pods) || int(st.SucceededPods) != len(t.pods) {
		problems = append(problems, fmt.Sprintf("%d of %d target pods succeeded, want %d", st.SucceededPods, st.TargetPods, len(t.pods)))
	}
	for _, pod := range st.Pods {
		if pod.Phase != cachev1alpha1.PodPurgeSucceeded {
			problems = append(problems, fmt.Sprintf("pod %s %s (%s)", pod.Name, pod.Phase, pod.LastError))
		}
	}
	if want := int64(objects * len(t.pods)); st.ObjectsInvalidated < want {
		problems = append(problems, fmt.Sprintf("%d objects invalidated, want at least %d", st.ObjectsInvalidated, want))
	}
	msg := fmt.Sprintf("Purge %s Complete: %d/%d pods Succeeded, %d objects invalidated", s.name, st.SucceededPods, st.TargetPods, st.ObjectsInvalidated)
	if s.effect == refetched {
		if want := int64(objects * len(t.pods)); st.ObjectsRefetched != want {
			problems = append(problems, fmt.Sprintf("%d objects refetched, want %d", st.ObjectsRefetched, want))
		}
		msg += fmt.Sprintf(", %d refetched", st.ObjectsRefetched)
	}
	t.check(len(problems) == 0, msg, strings.Join(problems, "; "))
}

// describe shows `kubectl describe purge`, trimmed to the result, one
// line per pod and the events. Events are recorded asynchronously, so it
// waits briefly for the Completed one.
func (t *tour) describe(ctx context.Context, name string) error {
	var d describedPurge
	err := poll(ctx, 10*time.Second, func() (bool, error) {
		out, err := t.env.kubectl.run(ctx, "describe", "purge", name)
		if err != nil {
			return false, err
		}
		d = parseDescribePurge(out)
		return strings.Contains(strings.Join(d.Events, "\n"), "Completed"), nil
	})
	t.n.command("kubectl describe purge " + name + "    # trimmed: result, pods, events")
	lines := make([]string, 0, 3+len(d.Pods)+len(d.Events))
	lines = append(lines, strings.Join(d.Summary, "   "), "Pods:")
	for _, p := range d.Pods {
		lines = append(lines, "  "+podLine(p))
	}
	lines = append(lines, "Events:")
	for _, e := range eventLines(d.Events) {
		lines = append(lines, "  "+e)
	}
	t.n.output(strings.Join(lines, "\n"))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	t.check(err == nil && len(d.Pods) == len(t.pods), fmt.Sprintf("describe shows all %d pods and the Started and Completed events", len(t.pods)),
		fmt.Sprintf("%d pods shown, events: %q, %v", len(d.Pods), d.Events, err))
	return nil
}

// showDropped checks every pod misses the purged paths and fetches a new
// version, and still holds the kept ones.
func (t *tour) showDropped(ctx context.Context, purged, kept []string, before map[string]byPod) error {
	after, err := t.requestAll(ctx, append(slices.Clone(purged), kept...))
	if err != nil {
		return err
	}
	isNew := func(path string) func(answer) bool {
		return func(a answer) bool { return a.outcome() == outcomeMiss && a.Version > maxVersion(before[path]) }
	}
	t.n.say("After the purge, each pod, for %s:", purged[0])
	rows := t.perPod(before[purged[0]], after[purged[0]], isNew(purged[0]))
	var bad []string
	for _, path := range purged {
		ok := allOf(after[path], isNew(path))
		if path != purged[0] {
			rows = append(rows, []string{path, summarize(before[path]), "→", summarize(after[path]), t.mark(ok)})
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %s", path, summarize(after[path])))
		}
	}
	var changed []string
	for _, path := range kept {
		ok := true
		for i, a := range after[path] {
			ok = ok && a.Version == before[path][i].Version && a.outcome() != outcomeMiss
		}
		rows = append(rows, []string{path, summarize(before[path]), "→", summarize(after[path]), t.mark(ok) + " (not purged)"})
		if !ok {
			changed = append(changed, path+": "+summarize(after[path]))
		}
	}
	t.n.table(rows)
	t.check(len(bad) == 0, "every pod dropped its copies: the next request went to the origin for a new version", strings.Join(bad, "; "))
	if len(kept) > 0 {
		t.check(len(changed) == 0, strings.Join(kept, ", ")+" untouched: same versions, still cached", strings.Join(changed, "; "))
	}
	t.n.say("Users now get the new content:")
	a, err := t.curl(ctx, purged[0])
	if err != nil {
		return err
	}
	t.check(a.Version > maxVersion(before[purged[0]]), fmt.Sprintf("through the Service: version %d, newer than every copy cached before", a.Version), a.short())
	return nil
}

// perPod is a table of each pod's answer before and after, marked by ok.
func (t *tour) perPod(before, after byPod, ok func(answer) bool) [][]string {
	rows := make([][]string, 0, len(t.pods))
	for i, p := range t.pods {
		rows = append(rows, []string{p.name, before[i].short(), "→", after[i].short(), t.mark(ok(after[i]))})
	}
	return rows
}

// showSoftened checks that with the origin down every pod still serves its
// stale copy, then that each refreshes it once the origin is back.
func (t *tour) showSoftened(ctx context.Context, path string, before byPod) error {
	after, err := t.requestAll(ctx, []string{path})
	if err != nil {
		return err
	}
	stale := after[path]
	t.n.say("After the soft purge, with the origin still down, each pod:")
	isStale := func(i int) bool {
		a := stale[i]
		return a.Status == http.StatusOK && strings.HasPrefix(a.outcome(), "stale") && a.Version == before[i].Version
	}
	ok := true
	rows := make([][]string, 0, len(t.pods))
	for i, p := range t.pods {
		ok = ok && isStale(i)
		rows = append(rows, []string{p.name, before[i].short(), "→", stale[i].short(), t.mark(isStale(i))})
	}
	t.n.table(rows)
	t.n.say("What a user gets through the Service:")
	a, err := t.curl(ctx, path)
	if err != nil {
		return err
	}
	ok = ok && a.Status == http.StatusOK && strings.Contains(a.CacheStatus, "fwd=stale")
	t.check(ok, "origin down, yet users get the stale copy (Cache-Status: fwd=stale), not an error",
		fmt.Sprintf("pods: %s; Service: %s", summarize(stale), a.short()))

	t.n.say("The origin comes back:")
	if err := t.originControl(ctx, "/_origin/recover"); err != nil {
		return err
	}
	fresh := make(byPod, len(t.pods))
	newest := maxVersion(before)
	_, err = t.n.wait(ctx, "requesting "+path+" until each pod's background refresh lands", func(ctx context.Context) error {
		return poll(ctx, 30*time.Second, func() (bool, error) {
			done := true
			for i, p := range t.pods {
				if fresh[i].Version > newest {
					continue
				}
				a, err := t.web.get(ctx, p.addr(), path)
				if err != nil {
					return false, err
				}
				fresh[i] = a
				done = done && a.Version > newest
			}
			return done, nil
		})
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	t.n.table(t.perPod(stale, fresh, func(a answer) bool { return a.Version > newest }))
	t.check(err == nil, "every pod refreshed in the background: new versions, no user waited", errString(err))
	return nil
}

// showRefetched checks every pod already holds a new version: a hit.
func (t *tour) showRefetched(ctx context.Context, purged []string, before map[string]byPod) error {
	after, err := t.requestAll(ctx, purged)
	if err != nil {
		return err
	}
	isFresh := func(path string) func(answer) bool {
		return func(a answer) bool { return a.outcome() == outcomeHit && a.Version > maxVersion(before[path]) }
	}
	t.n.say("After the purge, each pod, for %s:", purged[0])
	rows := t.perPod(before[purged[0]], after[purged[0]], isFresh(purged[0]))
	ok := true
	for _, path := range purged {
		pathOK := allOf(after[path], isFresh(path))
		ok = ok && pathOK
		if path != purged[0] {
			rows = append(rows, []string{path, summarize(before[path]), "→", summarize(after[path]), t.mark(pathOK)})
		}
	}
	t.n.table(rows)
	t.check(ok, "every pod already holds a new version: a hit; the pods asked the origin, not the users",
		summarize(after[purged[0]]))
	return nil
}

// requestAll requests each path from every pod once.
func (t *tour) requestAll(ctx context.Context, paths []string) (map[string]byPod, error) {
	out := map[string]byPod{}
	for _, path := range paths {
		out[path] = make(byPod, len(t.pods))
		for i, p := range t.pods {
			a, err := t.web.get(ctx, p.addr(), path)
			if err != nil {
				return nil, err
			}
			out[path][i] = a
		}
	}
	return out, nil
}

func (t *tour) mark(ok bool) string {
	if ok {
		return t.n.style(styleGreen, "✓")
	}
	return t.n.style(styleRed, "✗")
}

// summarize is "hit v1 v2 v3" when every pod answered alike, else each
// pod's short answer.
func summarize(as byPod) string {
	if len(as) == 0 {
		return "-"
	}
	same := allOf(as, func(a answer) bool { return a.outcome() == as[0].outcome() && a.Status == as[0].Status })
	if !same {
		parts := make([]string, len(as))
		for i, a := range as {
			parts[i] = a.short()
		}
		return strings.Join(parts, ", ")
	}
	parts := []string{as[0].outcome()}
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("v%d", a.Version))
	}
	return strings.Join(parts, " ")
}

// queryEscape escapes what would end or break a query value; "/", "?"
// and "=" may stay, which keeps the command readable.
func queryEscape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23", " ", "%20").Replace(s)
}

// versionList is "1, 2 and 3".
func versionList(as byPod) string {
	vs := make([]string, len(as))
	for i, a := range as {
		vs[i] = fmt.Sprint(a.Version)
	}
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}

func maxVersion(as byPod) int {
	m := 0
	for _, a := range as {
		m = max(m, a.Version)
	}
	return m
}

func allOf(as byPod, pred func(answer) bool) bool {
	for _, a := range as {
		if !pred(a) {
			return false
		}
	}
	return true
}
