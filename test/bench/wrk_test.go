package bench

import (
	"slices"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:1234
  1 threads and 64 connections
BENCHJSON {"requests":20000,"durationMicros":2000000,"bytes":2048000,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":3},"latencyMicros":{"p50":900,"p90":1500,"p99":4000,"p999":9000,"mean":1000.5,"max":12000}}
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 20000 || r.RPS() != 10000 || r.ErrorCount() != 6 || r.LatencyMicros.P99 != 4000 || r.LatencyMicros.Mean != 1000.5 {
		t.Errorf("parseWrk = %+v", r)
	}
	if _, err := parseWrk("wrk: connection refused\n"); err == nil {
		t.Error("parseWrk without a BENCHJSON line: no error")
	}
}

func TestWrkArgs(t *testing.T) {
	w := WrkRun{URL: "http://127.0.0.1:1", Connections: 64, Threads: 1, Duration: 1500 * time.Millisecond,
		Script: "bench.lua", Args: []string{patternList, "/1k/hot/", "100"}}
	want := []string{"-t1", "-c64", "-d2s", "--timeout", "5s", "-H", "Host: " + Host, "-s", "bench.lua",
		"http://127.0.0.1:1", "--", "list", "/1k/hot/", "100"}
	if got := w.args(); !slices.Equal(got, want) {
		t.Errorf("args = %q\nwant %q", got, want)
	}
	// wrk takes whole seconds, at least one, and at least one connection per thread.
	w = WrkRun{URL: "u", Threads: 2, Duration: 100 * time.Millisecond, Script: "s"}
	if got := w.args(); got[1] != "-c2" || got[2] != "-d1s" {
		t.Errorf("args = %q, want -c2 -d1s", got)
	}
}
