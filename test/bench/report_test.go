package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFmtInt(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4500: "-4,500"} {
		if got := fmtInt(in); got != want {
			t.Errorf("fmtInt(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestSummarizeDataPathRatios(t *testing.T) {
	scs := []Scenario{{Name: "s"}}
	var runs []DataPathRun
	for round, rps := range [][3]float64{{100, 50, 200}, {120, 60, 100}, {90, 100, 90}} {
		for i, kind := range Kinds {
			runs = append(runs, DataPathRun{Scenario: "s", Server: kind, Round: round + 1, RPS: rps[i],
				CPUMicrosPerRq: float64(10 * (i + 1)), Wrk: WrkResult{Requests: 1000}, OriginRequests: 10})
		}
	}
	sum := summarizeDataPath(scs, Kinds, runs)
	if len(sum) != 3 {
		t.Fatalf("%d summaries, want 3", len(sum))
	}
	if cp := sum[0]; cp.Server != KindCacheproxy || cp.RPS != 100 || len(cp.Ratios) != 0 || cp.MissRatio != 0.01 || cp.CPUPerNginx != 10.0/30 {
		t.Errorf("cacheproxy summary %+v", cp)
	}
	// Ratios per round: 2, 2, 0.9 → median 2; 0.5, 1.2, 1 → median 1.
	if v := sum[1]; v.Server != KindVarnish || v.MedianRatio != 2 || len(v.Ratios) != 3 {
		t.Errorf("varnish summary %+v", v)
	}
	if n := sum[2]; n.Server != KindNginx || n.MedianRatio != 1 {
		t.Errorf("nginx summary %+v", n)
	}
}

func TestMarkdownAndJSON(t *testing.T) {
	dp := &DataPathResult{Options: DataPathOptions{Rounds: 1, Duration: time.Second, Connections: 64, Threads: 1}, Scenarios: []Scenario{{Name: "hit-1k-hot"}}}
	for _, kind := range Kinds {
		dp.Runs = append(dp.Runs, DataPathRun{Scenario: "hit-1k-hot", Server: kind, Round: 1, RPS: 1000, Wrk: WrkResult{Requests: 1000}})
	}
	dp.Servers = Kinds
	dp.Summary = summarizeDataPath(dp.Scenarios, dp.Servers, dp.Runs)
	r := &Results{
		Mode: "short", Started: time.Now(), DataPath: dp,
		Invalidation: &InvalidationResult{Servers: []InvalidationServerResult{{Server: KindVarnish, PurgeBatchMillis: -1, TagServerMillis: -1}}},
		Protection: &ProtectionResult{Runs: []ProtectionRun{
			{Server: KindNginx, Mode: "simple", OriginRequests: 1},
			{Server: KindNginx, Mode: "soft", OriginRequests: -1, Skipped: "nginx cannot soft-purge"},
		}},
		Fleet:    &FleetResult{Sizes: []FleetSize{{Pods: 3, Latency: map[string]Summary{FleetSimple: {N: 20, P50: 12.5}}}}},
		Sections: []Section{{Name: "datapath", Seconds: 61}},
	}
	md := r.Markdown()
	for _, want := range []string{"SHORT MODE", "| hit-1k-hot | cacheproxy | 1,000 |", "**1.00**", "n/a (one URL per PURGE)", "| nginx | **1** | n/a |", "**12.5**", "| datapath | 1m1s |"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("results do not marshal: %v", err)
	}
}
