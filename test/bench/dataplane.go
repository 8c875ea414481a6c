package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Data path: the three proxies, warmed, driven by wrk with the same
// connections and duration, alternating A B C A B C over rounds so that
// drift (other work on the machine) hits all alike.

// DataPathOptions sizes the data path benchmark.
type DataPathOptions struct {
	Rounds      int           `json:"rounds"`
	Duration    time.Duration `json:"duration"`
	Warmup      time.Duration `json:"warmup"`
	Connections int           `json:"connections"`
	Threads     int           `json:"wrkThreads"`
	HotSet      int           `json:"hotSet"`
	WorkingSet  int           `json:"workingSet"`
	CacheSize   int64         `json:"cacheSize"`
	// Only, if not empty, names the scenarios to run.
	Only []string `json:"only,omitempty"`
}

// Scenario is one load shape.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// args returns bench.lua's arguments for a round of a server.
	args func(round int, kind string) []string
	// warm stores the objects the scenario hits (nil for misses).
	warm func(ctx context.Context, base string) error
}

// DataPathRun is one wrk run against one server.
type DataPathRun struct {
	Scenario       string    `json:"scenario"`
	Server         string    `json:"server"`
	Round          int       `json:"round"`
	RPS            float64   `json:"rps"`
	P50Millis      float64   `json:"p50Millis"`
	P99Millis      float64   `json:"p99Millis"`
	CPUMicrosPerRq float64   `json:"cpuMicrosPerRequest"`
	ServerCPU      float64   `json:"serverCPUSeconds"`
	OriginRequests int64     `json:"originRequests"`
	Errors         int64     `json:"errors"`
	Wrk            WrkResult `json:"wrk"`
}

// DataPathSummary is one scenario and server over all rounds.
type DataPathSummary struct {
	Scenario  string  `json:"scenario"`
	Server    string  `json:"server"`
	RPS       float64 `json:"medianRPS"`
	P50Millis float64 `json:"medianP50Millis"`
	P99Millis float64 `json:"medianP99Millis"`
	CPUMicros float64 `json:"medianCPUMicrosPerRequest"`
	// Ratios is cacheproxy's requests/s over this server's, per round;
	// empty for cacheproxy itself.
	Ratios      []float64 `json:"ratios,omitempty"`
	MedianRatio float64   `json:"medianRatio,omitempty"`
	MissRatio   float64   `json:"originRequestsPerRequest"`
	// CPUPerNginx is CPUMicros over nginx's median in the same scenario.
	CPUPerNginx float64 `json:"cpuPerNginx,omitempty"`
	Errors      int64   `json:"errors"`
}

// DataPathResult is the whole data path benchmark.
type DataPathResult struct {
	Options DataPathOptions `json:"options"`
	// Servers are the servers measured, in the order they ran each round.
	Servers   []string          `json:"servers"`
	Scenarios []Scenario        `json:"scenarios"`
	Runs      []DataPathRun     `json:"runs"`
	Summary   []DataPathSummary `json:"summary"`
}

// scenarios are the load shapes of the issue.
func scenarios(o DataPathOptions) []Scenario {
	list := func(prefix string, n int) func(int, string) []string {
		return func(int, string) []string { return []string{patternList, prefix, strconv.Itoa(n)} }
	}
	fill := func(prefix string, n int) func(context.Context, string) error {
		return func(ctx context.Context, base string) error {
			return Fill(ctx, base, 0, n, 16, func(i int) string { return prefix + strconv.Itoa(i) })
		}
	}
	return []Scenario{
		{
			Name:        "hit-1k-hot",
			Description: fmt.Sprintf("1 KiB hits, %d URLs in turn", o.HotSet),
			args:        list("/1k/hot/", o.HotSet),
			warm:        fill("/1k/hot/", o.HotSet),
		},
		{
			Name:        "hit-1k-10k",
			Description: fmt.Sprintf("1 KiB hits, uniformly random over %d URLs", o.WorkingSet),
			args: func(int, string) []string {
				return []string{patternRandom, "/1k/ws/", strconv.Itoa(o.WorkingSet)}
			},
			warm: fill("/1k/ws/", o.WorkingSet),
		},
		{
			Name:        "hit-100k-hot",
			Description: fmt.Sprintf("100 KiB hits, %d URLs in turn", o.HotSet),
			args:        list("/100k/hot/", o.HotSet),
			warm:        fill("/100k/hot/", o.HotSet),
		},
		{
			Name:        "hit-1m-hot",
			Description: fmt.Sprintf("1 MiB hits, %d URLs in turn", o.HotSet),
			args:        list("/1m/hot/", o.HotSet),
			warm:        fill("/1m/hot/", o.HotSet),
		},
		{
			Name:        "miss-1k",
			Description: "1 KiB misses: every request a new URL (fetched, stored, never asked again)",
			args: func(round int, kind string) []string {
				return []string{patternUnique, fmt.Sprintf("/1k/miss/r%d-%s-", round, kind)}
			},
		},
	}
}

// RunDataPath runs the data path benchmark.
func RunDataPath(ctx context.Context, env *Env, o DataPathOptions) (*DataPathResult, error) {
	res := &DataPathResult{Options: o, Servers: Kinds}
	if env.BaselineBin != "" {
		res.Servers = []string{KindCacheproxy, KindCacheproxyBefore, KindVarnish, KindNginx}
	}
	for _, sc := range scenarios(o) {
		if len(o.Only) == 0 || slices.Contains(o.Only, sc.Name) {
			res.Scenarios = append(res.Scenarios, sc)
		}
	}
	if len(res.Scenarios) == 0 {
		return nil, fmt.Errorf("no data path scenario among %q", o.Only)
	}
	servers := map[string]*Server{}
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	for _, kind := range res.Servers {
		s, err := StartServer(ctx, env, kind, ServerOptions{CacheSize: o.CacheSize})
		if err != nil {
			return nil, err
		}
		servers[kind] = s
	}
	for _, sc := range res.Scenarios {
		env.Logf("data path: %s (%s)", sc.Name, sc.Description)
		for _, kind := range res.Servers {
			if sc.warm != nil {
				if err := sc.warm(ctx, servers[kind].URL()); err != nil {
					return nil, fmt.Errorf("warming %s for %s: %w", kind, sc.Name, err)
				}
			}
			if o.Warmup > 0 {
				if _, err := runOne(ctx, env, servers[kind], sc, 0, o, o.Warmup); err != nil {
					return nil, err
				}
			}
		}
		for round := 1; round <= o.Rounds; round++ {
			for _, kind := range res.Servers {
				run, err := runOne(ctx, env, servers[kind], sc, round, o, o.Duration)
				if err != nil {
					return nil, err
				}
				env.Logf("  round %d %-10s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %5.1f µs CPU/req  origin %d",
					round, kind, run.RPS, run.P50Millis, run.P99Millis, run.CPUMicrosPerRq, run.OriginRequests)
				res.Runs = append(res.Runs, run)
			}
		}
	}
	res.Summary = summarizeDataPath(res.Scenarios, res.Servers, res.Runs)
	return res, nil
}

// runOne is one wrk run with the server's CPU time and the origin's
// request count read before and after.
func runOne(ctx context.Context, env *Env, s *Server, sc Scenario, round int, o DataPathOptions, d time.Duration) (DataPathRun, error) {
	before, err := s.Usage()
	if err != nil {
		return DataPathRun{}, fmt.Errorf("%s: %w", s.Kind, err)
	}
	origin0 := env.Origin.Requests()
	w, err := WrkRun{URL: s.URL(), Connections: o.Connections, Threads: o.Threads, Duration: d,
		Script: env.Script(), Args: sc.args(round, s.Kind)}.Run(ctx, env.Wrk)
	if err != nil {
		return DataPathRun{}, err
	}
	after, err := s.Usage()
	if err != nil {
		return DataPathRun{}, fmt.Errorf("%s: %w", s.Kind, err)
	}
	cpu := after.CPU - before.CPU
	run := DataPathRun{
		Scenario: sc.Name, Server: s.Kind, Round: round,
		RPS:            w.RPS(),
		P50Millis:      float64(w.LatencyMicros.P50) / 1000,
		P99Millis:      float64(w.LatencyMicros.P99) / 1000,
		ServerCPU:      cpu.Seconds(),
		OriginRequests: env.Origin.Requests() - origin0,
		Errors:         w.ErrorCount(),
		Wrk:            w,
	}
	if w.Requests > 0 {
		run.CPUMicrosPerRq = float64(cpu.Microseconds()) / float64(w.Requests)
	}
	return run, nil
}

// summarizeDataPath gives medians per scenario and server, cacheproxy's
// requests/s over each other server's per round, and each server's CPU per
// request over nginx's.
func summarizeDataPath(scs []Scenario, servers []string, runs []DataPathRun) []DataPathSummary {
	var out []DataPathSummary
	for _, sc := range scs {
		cpRPS := map[int]float64{}
		for _, r := range runs {
			if r.Scenario == sc.Name && r.Server == KindCacheproxy {
				cpRPS[r.Round] = r.RPS
			}
		}
		first := len(out)
		for _, kind := range servers {
			s := DataPathSummary{Scenario: sc.Name, Server: kind}
			var rps, p50, p99, cpu []float64
			var reqs, origin int64
			for _, r := range runs {
				if r.Scenario != sc.Name || r.Server != kind {
					continue
				}
				rps, p50, p99, cpu = append(rps, r.RPS), append(p50, r.P50Millis), append(p99, r.P99Millis), append(cpu, r.CPUMicrosPerRq)
				reqs += r.Wrk.Requests
				origin += r.OriginRequests
				s.Errors += r.Errors
				if kind != KindCacheproxy && r.RPS > 0 {
					s.Ratios = append(s.Ratios, cpRPS[r.Round]/r.RPS)
				}
			}
			if len(rps) == 0 {
				continue
			}
			s.RPS, s.P50Millis, s.P99Millis, s.CPUMicros = Median(rps), Median(p50), Median(p99), Median(cpu)
			if len(s.Ratios) > 0 {
				s.MedianRatio = Median(s.Ratios)
			}
			if reqs > 0 {
				s.MissRatio = float64(origin) / float64(reqs)
			}
			out = append(out, s)
		}
		for i := first; i < len(out); i++ {
			if out[i].Server == KindNginx && out[i].CPUMicros > 0 {
				for j := first; j < len(out); j++ {
					out[j].CPUPerNginx = out[j].CPUMicros / out[i].CPUMicros
				}
			}
		}
	}
	return out
}
