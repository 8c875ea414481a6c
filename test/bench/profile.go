package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy"
)

// Profiles: cacheproxy's hit and miss paths under wrk, with the proxy
// running inside this process (package cacheproxy, served the way
// cmd/cacheproxy serves it) so runtime/pprof sees it. Not part of the
// default run: hack/bench/run.sh --only=profile.

// ProfileOptions sizes the profiling runs.
type ProfileOptions struct {
	Duration    time.Duration `json:"duration"`
	Connections int           `json:"connections"`
	Threads     int           `json:"wrkThreads"`
	OutDir      string        `json:"-"`
	Stamp       string        `json:"-"`
}

// ProfileRun is one profiled load.
type ProfileRun struct {
	Scenario string  `json:"scenario"`
	RPS      float64 `json:"rps"`
	CPUFile  string  `json:"cpuProfile"`
	// AllocFile is the allocation profile after the run (cumulative over
	// the runs so far); AllocTop its top by bytes allocated.
	AllocFile string  `json:"allocProfile"`
	AllocTop  string  `json:"allocTop"`
	AllocsMB  float64 `json:"allocatedMBPerSecond"`
	// AllocsPerRequest is heap bytes allocated per request.
	AllocsPerRequest float64 `json:"allocatedBytesPerRequest"`
	// Top is `go tool pprof -top` of the CPU profile.
	Top string `json:"top"`
}

// ProfileResult is the whole profiling section.
type ProfileResult struct {
	Options ProfileOptions `json:"options"`
	Runs    []ProfileRun   `json:"runs"`
}

// RunProfile profiles cacheproxy's hit path (1 KiB and 100 KiB) and its
// miss path.
func RunProfile(ctx context.Context, env *Env, o ProfileOptions) (*ProfileResult, error) {
	u, err := url.Parse("http://" + env.OriginAddr)
	if err != nil {
		return nil, err
	}
	p, err := cacheproxy.New(cacheproxy.Config{Origin: u, CacheSize: 4 << 30, Logger: slog.New(slog.DiscardHandler), AdminToken: randomHex(8)})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// As cmd/cacheproxy serves the public port.
	srv := cacheproxy.NewServer(p, &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute})
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	res := &ProfileResult{Options: o}
	for _, sc := range []struct {
		name string
		args []string
		warm func() error
	}{
		{"hit-1k-hot", []string{patternList, "/1k/prof/", "100"}, func() error {
			return Fill(ctx, base, 0, 100, 8, func(i int) string { return "/1k/prof/" + strconv.Itoa(i) })
		}},
		{"hit-100k-hot", []string{patternList, "/100k/prof/", "100"}, func() error {
			return Fill(ctx, base, 0, 100, 8, func(i int) string { return "/100k/prof/" + strconv.Itoa(i) })
		}},
		{"miss-1k", []string{patternUnique, "/1k/prof-miss/"}, nil},
	} {
		if sc.warm != nil {
			if err := sc.warm(); err != nil {
				return res, err
			}
		}
		run, err := profileOne(ctx, env, o, base, sc.name, sc.args)
		if err != nil {
			return res, err
		}
		env.Logf("profile %s: %.0f req/s, %.0f B allocated per request, CPU profile %s", sc.name, run.RPS, run.AllocsPerRequest, run.CPUFile)
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

func profileOne(ctx context.Context, env *Env, o ProfileOptions, base, name string, args []string) (ProfileRun, error) {
	run := ProfileRun{Scenario: name}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return run, err
	}
	run.CPUFile = filepath.Join(o.OutDir, "profile-"+o.Stamp+"-"+name+".pprof")
	f, err := os.Create(run.CPUFile)
	if err != nil {
		return run, err
	}
	defer f.Close()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := pprof.StartCPUProfile(f); err != nil {
		return run, err
	}
	w, err := WrkRun{URL: base, Connections: o.Connections, Threads: o.Threads, Duration: o.Duration, Script: env.Script(), Args: args}.Run(ctx, env.Wrk)
	pprof.StopCPUProfile()
	runtime.ReadMemStats(&m1)
	if err != nil {
		return run, err
	}
	run.RPS = w.RPS()
	run.AllocsMB = float64(m1.TotalAlloc-m0.TotalAlloc) / (1 << 20) / o.Duration.Seconds()
	if w.Requests > 0 {
		run.AllocsPerRequest = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(w.Requests)
	}
	run.Top = pprofTop(ctx, run.CPUFile)
	// Allocations since the start of the process, sampled; the hit and
	// miss paths dominate them after a run.
	run.AllocFile = strings.TrimSuffix(run.CPUFile, ".pprof") + "-allocs.pprof"
	af, err := os.Create(run.AllocFile)
	if err != nil {
		return run, err
	}
	defer af.Close()
	if err := pprof.Lookup("allocs").WriteTo(af, 0); err != nil {
		return run, err
	}
	run.AllocTop = pprofTop(ctx, run.AllocFile, "-sample_index=alloc_space")
	return run, nil
}

// pprofTop is `go tool pprof -top` of a profile, or why not.
func pprofTop(ctx context.Context, file string, flags ...string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	args := append([]string{"tool", "pprof", "-top", "-nodecount=30"}, flags...)
	out, err := exec.CommandContext(ctx, "go", append(args, file)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *ProfileResult) markdown(b io.StringWriter) {
	_, _ = b.WriteString("## Profiles (cacheproxy in the benchmark's process)\n\n")
	for _, run := range r.Runs {
		_, _ = b.WriteString(fmt.Sprintf("### %s: %s req/s, %.0f B allocated per request\n\nCPU profile: `%s` (`go tool pprof -http=: %s`)\n\n```\n%s\n```\n\n"+
			"Allocations (cumulative since the first run): `%s`\n\n```\n%s\n```\n\n",
			run.Scenario, fmtInt(run.RPS), run.AllocsPerRequest, run.CPUFile, run.CPUFile, run.Top, run.AllocFile, run.AllocTop))
	}
}
