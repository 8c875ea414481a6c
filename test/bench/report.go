package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Results is everything one run measured: the Markdown report is rendered
// from it and it is written beside the report as JSON (the raw numbers).
type Results struct {
	Mode      string    `json:"mode"` // "default" or "short"
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Commit    string    `json:"commit"`
	Command   string    `json:"command"`
	Machine   Machine   `json:"machine"`
	LoadStart string    `json:"loadAverageStart"`
	LoadEnd   string    `json:"loadAverageEnd"`
	Sections  []Section `json:"sections"`

	DataPath     *DataPathResult     `json:"dataPath,omitempty"`
	Invalidation *InvalidationResult `json:"invalidation,omitempty"`
	Memory       *MemoryResult       `json:"memory,omitempty"`
	Protection   *ProtectionResult   `json:"originProtection,omitempty"`
	Fleet        *FleetResult        `json:"fleet,omitempty"`
	Profile      *ProfileResult      `json:"profile,omitempty"`
	Gateway      *GatewayResult      `json:"gateway,omitempty"`
}

// Section is one benchmark's bookkeeping: how long it took, the load
// average around it, and its error if it failed.
type Section struct {
	Name      string  `json:"name"`
	Seconds   float64 `json:"seconds"`
	LoadStart string  `json:"loadAverageStart"`
	LoadEnd   string  `json:"loadAverageEnd"`
	Error     string  `json:"error,omitempty"`
}

// Markdown renders the report: the tables, then how and where they were made.
func (r *Results) Markdown() string {
	var b strings.Builder
	title := "Benchmark results"
	if r.Mode == "short" {
		title += " (SHORT MODE: fewer rounds, shorter loads, fewer objects; for a quick look, not for publishing)"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "Run %s, %s, commit %s, `%s`.\n\n", r.Started.UTC().Format(time.RFC3339), fmtDuration(r.Seconds), r.Commit, r.Command)
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, %.1f GiB, %s, kernel %s. ", m.CPU, m.CPUs, m.MemoryGi, m.OS, m.Kernel)
	fmt.Fprintf(&b, "Versions: %s. Load average (1/5/15 min) at start %s, at end %s.\n\n", versions(m.Versions), r.LoadStart, r.LoadEnd)
	if r.DataPath != nil {
		r.DataPath.markdown(&b)
	}
	if r.Invalidation != nil {
		r.Invalidation.markdown(&b)
	}
	if r.Memory != nil {
		r.Memory.markdown(&b)
	}
	if r.Protection != nil {
		r.Protection.markdown(&b)
	}
	if r.Fleet != nil {
		r.Fleet.markdown(&b)
	}
	if r.Profile != nil {
		r.Profile.markdown(&b)
	}
	if r.Gateway != nil {
		r.Gateway.markdown(&b)
	}
	b.WriteString("## Sections\n\n| section | time | load avg at start | at end | error |\n|---|---:|---|---|---|\n")
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", s.Name, fmtDuration(s.Seconds), s.LoadStart, s.LoadEnd, s.Error)
	}
	b.WriteString("\n")
	return b.String()
}

func versions(v map[string]string) string {
	var parts []string
	for _, k := range []string{"go", "varnishd", "nginx", "wrk"} {
		if v[k] != "" {
			parts = append(parts, v[k])
		}
	}
	return strings.Join(parts, "; ")
}

func (d *DataPathResult) markdown(b *strings.Builder) {
	o := d.Options
	fmt.Fprintf(b, "## Data path\n\nwrk with %d thread, %d connections, %s per run, %d rounds alternating %s; "+
		"medians over the rounds. CPU is the server's user+system time (all its processes) per request; "+
		"\"CPU ÷ nginx\" divides it by nginx's in the same scenario. "+
		"\"origin\" counts the origin requests during the measured runs (0 for hits).\n\n",
		o.Threads, o.Connections, o.Duration, o.Rounds, strings.Join(d.Servers, ", "))
	b.WriteString("| scenario | server | req/s | p50 ms | p99 ms | CPU µs/req | CPU ÷ nginx | origin | cacheproxy ÷ server (req/s), per round | median ratio |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
	last := ""
	for _, s := range d.Summary {
		name := s.Scenario
		if name == last {
			name = ""
		}
		last = s.Scenario
		ratios, median := "", ""
		if len(s.Ratios) > 0 {
			parts := make([]string, len(s.Ratios))
			for i, x := range s.Ratios {
				parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
			}
			ratios, median = strings.Join(parts, " "), "**"+strconv.FormatFloat(s.MedianRatio, 'f', 2, 64)+"**"
		}
		var origin int64
		for _, r := range d.Runs {
			if r.Scenario == s.Scenario && r.Server == s.Server {
				origin += r.OriginRequests
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.2f | %.2f | %.1f | %.2f | %d | %s | %s |\n",
			name, s.Server, fmtInt(s.RPS), s.P50Millis, s.P99Millis, s.CPUMicros, s.CPUPerNginx, origin, ratios, median)
	}
	b.WriteString("\n")
	for _, sc := range d.Scenarios {
		fmt.Fprintf(b, "- %s: %s\n", sc.Name, sc.Description)
	}
	b.WriteString("\n")
}

const notApplicable = "n/a"

// fmtInt formats a count with thousands separators.
func fmtInt(x float64) string {
	if math.IsNaN(x) {
		return notApplicable
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtDuration(seconds float64) string {
	return (time.Duration(seconds * float64(time.Second))).Round(time.Second).String()
}

// fmtMs formats milliseconds with sensible precision; NaN is n/a.
func fmtMs(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return notApplicable
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64)
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 0, 64)
}

func (r *InvalidationResult) markdown(b *strings.Builder) {
	o := r.Options
	fmt.Fprintf(b, "## Invalidation cost\n\n%s objects of %d B in one server, stored through its miss path (%d connections); "+
		"%d bans that match nothing (prefixes outside the stored paths) are registered after the first half. Both servers check bans "+
		"lazily, at lookup, against objects older than the ban, once per object: hits on the first half (older than the bans) "+
		"pay the checks, hits on the second half do not, and the two alternate round by round (wrk, %d connections, %s per run, "+
		"%d rounds, medians). \"hot\": %d URLs in turn (steady state: each object checked once); \"random\": uniform over %s "+
		"objects (mostly first checks: the worst case). cacheproxy runs with --ban-sweep-interval=1h so the bans stay active "+
		"(its sweeper would otherwise check every object in the background and retire them within seconds).\n\n",
		fmtInt(float64(o.Objects)), SmallBody, o.FillWorkers, o.Bans, o.Connections, o.HitDuration, o.HitRounds, o.HotSet, fmtInt(float64(o.Objects/2)))
	b.WriteString("| measure |")
	for _, s := range r.Servers {
		fmt.Fprintf(b, " %s |", s.Server)
	}
	b.WriteString("\n|---|")
	for range r.Servers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(name string, cell func(s *InvalidationServerResult) string) {
		fmt.Fprintf(b, "| %s |", name)
		for i := range r.Servers {
			fmt.Fprintf(b, " %s |", cell(&r.Servers[i]))
		}
		b.WriteString("\n")
	}
	row("fill time", func(s *InvalidationServerResult) string {
		return fmt.Sprintf("%.0f s (%s objects/s)", s.FillSeconds, fmtInt(float64(o.Objects)/s.FillSeconds))
	})
	row("memory per object (RSS slope)", func(s *InvalidationServerResult) string {
		out := fmtInt(s.BytesPerObject) + " B"
		if s.HeapPerObject > 0 {
			out += fmt.Sprintf(" (live Go heap %s B, charged %s B)", fmtInt(s.HeapPerObject), fmtInt(s.ChargedPerObject))
		}
		return out
	})
	banRow := func(rtt, server Summary) string {
		out := fmtMs(rtt.P50) + " / " + fmtMs(rtt.P99) + " ms"
		if server.N > 0 {
			out += fmt.Sprintf(" (server %s / %s ms)", fmtMs(server.P50), fmtMs(server.P99))
		}
		return out
	}
	row(fmt.Sprintf("ban registration round trip p50 / p99, %s objects (%d bans)", fmtInt(float64(o.Objects/2)), o.Bans), func(s *InvalidationServerResult) string {
		return banRow(s.BanRegister, s.BanServer)
	})
	row(fmt.Sprintf("ban registration round trip p50 / p99, %s objects (%d bans)", fmtInt(float64(o.Objects)), fullBans), func(s *InvalidationServerResult) string {
		return banRow(s.BanRegisterFull, s.BanServerFull)
	})
	row(fmt.Sprintf("ban sent → first request that misses was sent, p50 / max (%d trials)", o.EffectTrials), func(s *InvalidationServerResult) string {
		out := fmt.Sprintf("%s / %s ms (miss answered %s ms; the ban's own round trip %s ms",
			fmtMs(s.BanEffect.P50), fmtMs(s.BanEffect.Max), fmtMs(s.BanEffectAnswered.P50), fmtMs(s.BanEffectRTT.P50))
		if s.BanEffectServer.N > 0 {
			out += ", server " + fmtMs(s.BanEffectServer.P50) + " ms"
		}
		return out + ")"
	})
	cost := func(c BanCost) string {
		if !c.HasResults {
			return notApplicable
		}
		return fmt.Sprintf("%s → %s req/s (%+.1f%%); %.1f → %.1f µs CPU/req (%+.1f%%)",
			fmtInt(c.RPS0), fmtInt(c.RPSBans), -c.RPSCost, c.CPU0, c.CPUBans, c.CPUCost)
	}
	row(fmt.Sprintf("hot hits: newer → older than %d bans", o.Bans), func(s *InvalidationServerResult) string { return cost(s.HotCost) })
	row(fmt.Sprintf("random hits: newer → older than %d bans", o.Bans), func(s *InvalidationServerResult) string { return cost(s.RandomCost) })
	row(fmt.Sprintf("%s single-URL purges, one connection", fmtInt(float64(o.Purges))), func(s *InvalidationServerResult) string {
		return fmtMs(s.PurgeSequentialMillis) + " ms"
	})
	row(fmt.Sprintf("%s single-URL purges, %d connections", fmtInt(float64(o.Purges)), o.PurgeWorkers), func(s *InvalidationServerResult) string {
		return fmtMs(s.PurgeConcurrentMillis) + " ms"
	})
	row(fmt.Sprintf("%s URLs in one purge call", fmtInt(float64(o.Purges))), func(s *InvalidationServerResult) string {
		if s.PurgeBatchMillis < 0 {
			return "n/a (one URL per PURGE)"
		}
		return fmt.Sprintf("%s ms (server %s ms)", fmtMs(s.PurgeBatchMillis), fmtMs(s.PurgeBatchServer))
	})
	row("objects removed by the purges", func(s *InvalidationServerResult) string { return fmtInt(float64(s.PurgedObjects)) })
	row(fmt.Sprintf("tag purge of %s objects", fmtInt(TagGroupSize)), func(s *InvalidationServerResult) string {
		out := fmtMs(s.TagMillis) + " ms"
		if s.TagServerMillis >= 0 {
			out += fmt.Sprintf(" (server %s ms, %s invalidated)", fmtMs(s.TagServerMillis), fmtInt(float64(s.TagInvalidated)))
		}
		return out
	})
	b.WriteString("\n")
	for _, s := range r.Servers {
		fmt.Fprintf(b, "- %s tag purge: %s.", s.Server, s.TagHow)
		b.WriteString(" RSS by objects stored:")
		for _, p := range s.Memory {
			fmt.Fprintf(b, " %s: %.0f MiB;", fmtInt(float64(p.Objects)), float64(p.RSS)/(1<<20))
		}
		b.WriteString("\n")
		for _, n := range s.Notes {
			fmt.Fprintf(b, "- %s: %s\n", s.Server, n)
		}
	}
	b.WriteString("\n")
}

func (r *ProtectionResult) markdown(b *strings.Builder) {
	o := r.Options
	fmt.Fprintf(b, "## Origin protection\n\nOne hot object on an origin path that answers after %s, requested by %d connections "+
		"continuously; after %s it is purged, and the origin requests for it in the next %s are counted (goal: 1).\n\n",
		o.SlowDelay, o.Connections, o.Before, o.Window)
	b.WriteString("| server | simple purge: origin requests | soft purge: origin requests | answers in the window (simple / soft) |\n|---|---:|---:|---|\n")
	for _, kind := range Kinds {
		cells := map[string]ProtectionRun{}
		for _, run := range r.Runs {
			if run.Server == kind {
				cells[run.Mode] = run
			}
		}
		if len(cells) == 0 {
			continue
		}
		cell := func(run ProtectionRun) string {
			if run.Skipped != "" {
				return notApplicable
			}
			return "**" + strconv.FormatInt(run.OriginRequests, 10) + "**"
		}
		answers := func(run ProtectionRun) string {
			if run.Skipped != "" {
				return "n/a (" + run.Skipped + ")"
			}
			return fmt.Sprintf("%s ok, %d errors", fmtInt(float64(run.ClientOK)), run.ClientErrors)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s / %s |\n", kind, cell(cells["simple"]), cell(cells["soft"]), answers(cells["simple"]), answers(cells["soft"]))
	}
	b.WriteString("\n")
}

func (r *FleetResult) markdown(b *strings.Builder) {
	o := r.Options
	fmt.Fprintf(b, "## Purge latency across a fleet\n\nLocal cluster (test/localcluster: etcd, kube-apiserver, kube-controller-manager, "+
		"kube-scheduler and one node of kubelet, containerd, runc and kube-proxy; every cache pod a container of the cacheproxy image), "+
		"the operator installed from dist/install.yaml (its manager a pod of the manager image, default flags). Each pod holds %s objects. Purges are created one at a time "+
		"with the API client; the time is from just before Create to the watch event showing Complete (client clock). "+
		"%d Purges per kind and size. Published anchors: Fastly and Cloudflare, about 150 ms for a global purge.\n\n",
		fmtInt(float64(o.Objects)), o.Purges)
	b.WriteString("| pods | simple, 10 URLs: p50 / p95 / max ms | ban: p50 / p95 / max ms | refetch, 10 URLs: p50 / p95 / max ms | operator's mean pod call | scale-up + fill |\n")
	b.WriteString("|---:|---|---|---|---:|---|\n")
	for _, s := range r.Sizes {
		cell := func(kind string) string {
			l := s.Latency[kind]
			return fmt.Sprintf("**%s** / %s / %s", fmtMs(l.P50), fmtMs(l.P95), fmtMs(l.Max))
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s ms | %.0f s + %.0f s |\n", s.Pods, cell(FleetSimple), cell(FleetBan), cell(FleetRefetch),
			fmtMs(s.PodCallMillis), s.ReadySecs, s.FillSeconds)
	}
	b.WriteString("\nWhere the time goes (p50 over all kinds, from just before Create): the watch delivers the new Purge (ADDED), " +
		"the first and the last pod finish the invalidation (pod logs, millisecond timestamps), the watch delivers Complete.\n\n" +
		"| pods | ADDED | first pod done | last pod done | Complete (all kinds) | operator: queue wait, reconcile (means) |\n|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.Sizes {
		var all []float64
		for _, p := range r.Purges {
			if p.Pods == s.Pods {
				all = append(all, p.Millis)
			}
		}
		fmt.Fprintf(b, "| %d | %s ms | %s ms | %s ms | %s ms | %s ms, %s ms (%.0f reconciles) |\n", s.Pods, fmtMs(s.Added.P50), fmtMs(s.FirstPod.P50),
			fmtMs(s.LastPod.P50), fmtMs(Median(all)), fmtMs(s.QueueMillis), fmtMs(s.ReconcileMillis), s.Reconciles)
	}
	b.WriteString("\nAPI reads a reconcile makes before calling the pods, timed from the benchmark's client (p50 / p95 ms):")
	for _, s := range r.Sizes {
		fmt.Fprintf(b, " %d pods:", s.Pods)
		for _, name := range []string{readListPods, readListPodsAfterWrite, readListPodsCached, readGetSecret} {
			if l, ok := s.APIReads[name]; ok {
				fmt.Fprintf(b, " %s %s / %s;", name, fmtMs(l.P50), fmtMs(l.P95))
			}
		}
	}
	b.WriteString("\n")
	if r.KubectlPods > 0 {
		fmt.Fprintf(b, "\nkubectl, %d pods, %d samples: `kubectl create -f -` takes %s ms p50 (process start, discovery, the create) "+
			"against %s ms for the API client's Create; create→Complete through kubectl %s ms p50.\n",
			r.KubectlPods, r.KubectlCreate.N, fmtMs(r.KubectlCreate.P50), fmtMs(r.ClientCreate.P50), fmtMs(r.KubectlComplete.P50))
	}
	fmt.Fprintf(b, "\nCluster start: %.1f s; kubectl apply of dist/install.yaml to the manager Available: %.1f s.\n\n", r.ClusterStart, r.OperatorAvailable)
}
