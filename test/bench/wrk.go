package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Request patterns of bench.lua (its first argument).
const (
	patternList   = "list"   // PREFIX0 .. PREFIX(N-1) in turn
	patternRandom = "random" // uniformly random among PREFIX0 .. PREFIX(N-1)
	patternUnique = "unique" // a new URL every request
)

// WrkRun is one wrk invocation: what hack/bench/bench.lua is asked to
// request, against which URL, with how many connections for how long.
type WrkRun struct {
	URL         string        // base URL, "http://127.0.0.1:port"
	Connections int           // open connections, kept alive
	Threads     int           // wrk threads; 1 leaves the other core to the server
	Duration    time.Duration // length of the run
	Script      string        // path of bench.lua
	Args        []string      // the script's arguments: mode, prefix, count
}

// WrkResult is wrk's summary of one run, as bench.lua's done() prints it.
type WrkResult struct {
	Requests       int64 `json:"requests"`
	DurationMicros int64 `json:"durationMicros"`
	Bytes          int64 `json:"bytes"`
	Errors         struct {
		Connect int64 `json:"connect"`
		Read    int64 `json:"read"`
		Write   int64 `json:"write"`
		Status  int64 `json:"status"`
		Timeout int64 `json:"timeout"`
	} `json:"errors"`
	LatencyMicros struct {
		P50  int64   `json:"p50"`
		P90  int64   `json:"p90"`
		P99  int64   `json:"p99"`
		P999 int64   `json:"p999"`
		Mean float64 `json:"mean"`
		Max  int64   `json:"max"`
	} `json:"latencyMicros"`
}

// RPS is requests per second over the run.
func (r WrkResult) RPS() float64 {
	if r.DurationMicros == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationMicros) / 1e6)
}

// ErrorCount is every failed request: socket errors and non-2xx/3xx answers.
func (r WrkResult) ErrorCount() int64 {
	e := r.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

// seconds is the run's length in whole seconds, at least one: wrk takes
// no fractions.
func (w WrkRun) seconds() int {
	return max(int(math.Ceil(w.Duration.Seconds())), 1)
}

// args is the wrk command line of the run.
func (w WrkRun) args() []string {
	threads := max(w.Threads, 1)
	a := []string{
		"-t" + strconv.Itoa(threads),
		"-c" + strconv.Itoa(max(w.Connections, threads)),
		"-d" + strconv.Itoa(w.seconds()) + "s",
		"--timeout", "5s",
		"-H", "Host: " + Host,
		"-s", w.Script,
		w.URL,
	}
	if len(w.Args) > 0 {
		a = append(append(a, "--"), w.Args...)
	}
	return a
}

// Run runs wrk (wrkPath) and returns its summary.
func (w WrkRun) Run(ctx context.Context, wrkPath string) (WrkResult, error) {
	// wrk stops by itself after Duration; the bound covers a wedged wrk.
	ctx, cancel := context.WithTimeout(ctx, w.Duration+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrkPath, w.args()...).CombinedOutput()
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(w.args(), " "), err, out)
	}
	return parseWrk(string(out))
}

// parseWrk finds bench.lua's BENCHJSON line in wrk's output.
func parseWrk(out string) (WrkResult, error) {
	var r WrkResult
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "BENCHJSON "); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("parsing wrk summary %q: %w", rest, err)
			}
			return r, nil
		}
	}
	return r, fmt.Errorf("no BENCHJSON line in wrk output:\n%s", out)
}
