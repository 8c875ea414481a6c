// Command bench runs the benchmarks of package test/bench: the data path of
// cacheproxy against Varnish and nginx, the cost of invalidation, memory
// per object with 256-byte and 1 KiB bodies, origin protection after a
// purge, purge latency across a fleet on the local
// cluster, and the purge gateway's requests/s and request→Purge-created
// latency at 10, 100 and 1,000 requests/s. It writes
// results-<timestamp>.md (tables) and .json (raw numbers) into --out and
// prints the Markdown. hack/bench/run.sh (make bench) installs the tools,
// builds the binaries and runs it:
//
//	make bench                      # the default run, about 21 minutes on 2 cores
//	make bench BENCH_FLAGS=--short  # a quick look, about 2.5 minutes
//	hack/bench/run.sh --only=datapath,protection --rounds=2
//	hack/bench/run.sh --only=gateway     # the purge gateway alone
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cacheops/purge-operator/test/bench"
)

func main() {
	os.Exit(run())
}

// sections, in the order they run; optional ones run only when named
// with --only.
const (
	sectionDataPath     = "datapath"
	sectionInvalidation = "invalidation"
	sectionMemory       = "memory"
	sectionProtection   = "protection"
	sectionFleet        = "fleet"
	sectionProfile      = "profile"
	sectionGateway      = "gateway"
)

var (
	sections = []string{sectionDataPath, sectionInvalidation, sectionMemory, sectionProtection, sectionFleet, sectionGateway, sectionProfile}
	optional = map[string]bool{sectionProfile: true}
)

type flags struct {
	short                         bool
	only, binDir, configDir       string
	out, wrk, crdDir, baselineBin string
	repoDir                       string
	commit, command               string
	rounds, connections           int
	objects, fleetObjects         int
	memoryObjects                 int
	fleetPurges                   int
	duration                      time.Duration
	fleetSizes, scenarios         string
	keepGoing, keepWork           bool
	dataPath                      bench.DataPathOptions
	invalidation                  bench.InvalidationOptions
	memory                        bench.MemoryOptions
	protection                    bench.ProtectionOptions
	fleet                         bench.FleetOptions
	profile                       bench.ProfileOptions
	gateway                       bench.GatewayOptions
	selected                      map[string]bool
	originDelay, protectWindow    time.Duration
}

func parseFlags() (*flags, error) {
	f := &flags{}
	flag.BoolVar(&f.short, "short", false, "quick look: fewer rounds, shorter loads, fewer objects, fleets of 3 and 10 pods (labelled SHORT in the results)")
	flag.StringVar(&f.only, "only", "", "comma-separated sections to run: "+strings.Join(sections, ",")+" (default all but profile)")
	flag.StringVar(&f.binDir, "bin-dir", "bin", "directory of cacheproxy, manager and k8s/ (make build envtest)")
	flag.StringVar(&f.configDir, "config-dir", "hack/bench", "directory of bench.lua, varnish.vcl and nginx.conf")
	flag.StringVar(&f.crdDir, "crd-dir", "config/crd/bases", "CRD manifests for the gateway section's API server")
	flag.StringVar(&f.repoDir, "repo-dir", ".", "the repository, whose dist/install.yaml installs the operator on the fleet's cluster")
	flag.StringVar(&f.out, "out", "test/.state/bench", "directory for results-<timestamp>.md and .json, and the cluster's logs")
	flag.StringVar(&f.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&f.baselineBin, "baseline-bin", "", "a cacheproxy binary of an earlier commit: the data path runs it too, as cacheproxy-before (run.sh --baseline=REV builds it)")
	flag.StringVar(&f.commit, "commit", "unknown", "commit being measured, for the report")
	flag.StringVar(&f.command, "command", "hack/bench/run.sh", "command line that ran the benchmark, for the report")
	flag.IntVar(&f.rounds, "rounds", 0, "data path rounds (default 4, short 2)")
	flag.DurationVar(&f.duration, "duration", 0, "data path wrk run length, whole seconds (default 4s, short 2s)")
	flag.IntVar(&f.connections, "connections", 64, "wrk connections, and concurrent clients in origin protection")
	flag.IntVar(&f.objects, "objects", 0, "objects in the invalidation cache (default 1000000, short 50000)")
	flag.IntVar(&f.memoryObjects, "memory-objects", 0, "objects per server and body size in the memory section (default 300000, short 50000)")
	flag.StringVar(&f.scenarios, "scenarios", "", "comma-separated data path scenarios (default all: hit-1k-hot,hit-1k-10k,hit-100k-hot,hit-1m-hot,miss-1k)")
	flag.StringVar(&f.fleetSizes, "fleet-sizes", "", "comma-separated fleet sizes (default 3,10,50, short 3,10)")
	flag.IntVar(&f.fleetObjects, "fleet-objects", 0, "objects per fleet pod (default 10000, short 1000)")
	flag.IntVar(&f.fleetPurges, "fleet-purges", 0, "Purges per kind and fleet size (default 20, short 5)")
	flag.DurationVar(&f.originDelay, "origin-delay", 100*time.Millisecond, "origin latency of the origin protection object")
	flag.DurationVar(&f.protectWindow, "protect-window", time.Second, "window after a purge in which origin requests are counted")
	flag.BoolVar(&f.keepGoing, "keep-going", true, "run the next section when one fails")
	flag.BoolVar(&f.keepWork, "keep-work", false, "keep the scratch directory (server configurations and logs) for debugging")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	f.selected = map[string]bool{}
	for s := range strings.SplitSeq(f.only, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !contains(sections, s) {
			return nil, fmt.Errorf("--only: unknown section %q (want %s)", s, strings.Join(sections, ","))
		}
		f.selected[s] = true
	}
	if len(f.selected) == 0 {
		for _, s := range sections {
			f.selected[s] = !optional[s]
		}
	}
	pick := func(set, def, short int) int {
		switch {
		case set > 0:
			return set
		case f.short:
			return short
		}
		return def
	}
	pickD := func(set, def, short time.Duration) time.Duration {
		switch {
		case set > 0:
			return set
		case f.short:
			return short
		}
		return def
	}
	f.dataPath = bench.DataPathOptions{
		Rounds:      pick(f.rounds, 4, 2),
		Duration:    pickD(f.duration, 4*time.Second, 2*time.Second),
		Warmup:      pickD(0, time.Second, 0), // short: the fill is the only warm-up
		Connections: f.connections,
		Threads:     1,
		HotSet:      100,
		WorkingSet:  10000,
		CacheSize:   4 << 30,
	}
	for s := range strings.SplitSeq(f.scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			f.dataPath.Only = append(f.dataPath.Only, s)
		}
	}
	f.invalidation = bench.InvalidationOptions{
		Objects:      pick(f.objects, 1_000_000, 50_000),
		Checkpoints:  pick(0, 6, 2),
		FillWorkers:  32,
		Bans:         100,
		Purges:       1000,
		PurgeWorkers: 16,
		EffectTrials: pick(0, 5, 3),
		HitRounds:    pick(0, 4, 1),
		HitDuration:  2 * time.Second,
		HotSet:       100,
		Connections:  f.connections,
		Threads:      1,
		CacheSize:    4 << 30,
	}
	f.memory = bench.MemoryOptions{
		Objects:     pick(f.memoryObjects, 300_000, 50_000),
		Checkpoints: pick(0, 6, 2),
		FillWorkers: 32,
		Classes:     []string{"small", "1k"},
		Purges:      1000,
		CacheSize:   4 << 30,
		Variant:     []string{"--gc-headroom=0"},
	}
	f.protection = bench.ProtectionOptions{
		Connections: f.connections,
		Before:      time.Second,
		Window:      f.protectWindow,
		SlowDelay:   f.originDelay,
	}
	f.profile = bench.ProfileOptions{
		Duration:    pickD(f.duration, 10*time.Second, 4*time.Second),
		Connections: f.connections,
		Threads:     1,
		OutDir:      f.out,
	}
	f.gateway = bench.GatewayOptions{
		Rates:      []int{10, 100, 1000},
		Duration:   pickD(f.duration, 10*time.Second, 3*time.Second),
		Clients:    1024,
		EnvtestDir: filepath.Join(f.binDir, "k8s"),
		CRDDir:     f.crdDir,
	}
	sizes := "3,10,50"
	if f.short {
		sizes = "3,10"
	}
	if f.fleetSizes != "" {
		sizes = f.fleetSizes
	}
	f.fleet = bench.FleetOptions{
		Objects:        pick(f.fleetObjects, 10000, 1000),
		Purges:         pick(f.fleetPurges, 20, 5),
		FillWorkers:    32,
		KubectlSamples: pick(0, 5, 2),
		StateDir:       filepath.Join(f.out, "cluster"),
		RepoDir:        f.repoDir,
	}
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--fleet-sizes: bad size %q", s)
		}
		f.fleet.Sizes = append(f.fleet.Sizes, n)
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run() int {
	f, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctrllog.SetLogger(logr.Discard()) // the cluster harness's libraries log through controller-runtime
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runAll(ctx, f)
	if res == nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	md := res.Markdown()
	stamp := res.Started.UTC().Format("20060102-150405")
	if werr := writeResults(f.out, stamp, md, res); werr != nil {
		fmt.Fprintln(os.Stderr, "bench:", werr)
		return 1
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "Results: %s (raw numbers: %s)\n",
		filepath.Join(f.out, "results-"+stamp+".md"), filepath.Join(f.out, "results-"+stamp+".json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// runAll sets up the shared environment (scratch directories, origin,
// process registry), runs each selected section and tears everything down.
func runAll(ctx context.Context, f *flags) (*bench.Results, error) {
	work, err := os.MkdirTemp("", "purge-bench-")
	if err != nil {
		return nil, err
	}
	if f.keepWork {
		logf("scratch directory (kept): %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	shm := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if shm, err = os.MkdirTemp("/dev/shm", "purge-bench-"); err != nil {
			shm = ""
		} else {
			defer os.RemoveAll(shm)
		}
	}
	origin := bench.NewOrigin(f.originDelay)
	originAddr, stopOrigin, err := bench.ServeOrigin(ctx, origin)
	if err != nil {
		return nil, err
	}
	defer stopOrigin()
	procs := &bench.Procs{}
	defer procs.StopAll()
	env := &bench.Env{
		BinDir: f.binDir, BaselineBin: f.baselineBin, ConfigDir: f.configDir, WorkDir: work, ShmDir: shm, Wrk: f.wrk,
		Procs: procs, Origin: origin, OriginAddr: originAddr, Logf: logf, Short: f.short,
	}
	mode := "default"
	if f.short {
		mode = "short"
	}
	res := &bench.Results{
		Mode: mode, Started: time.Now(), Commit: f.commit, Command: f.command,
		Machine: bench.DescribeMachine(ctx, env), LoadStart: bench.LoadAverage(),
	}
	logf("mode %s, sections %s, origin %s, load average %s", mode, strings.Join(selected(f), ","), originAddr, res.LoadStart)
	var errs []error
	for _, name := range sections {
		if !f.selected[name] || ctx.Err() != nil {
			continue
		}
		sec := bench.Section{Name: name, LoadStart: bench.LoadAverage()}
		began := time.Now()
		err := runSection(ctx, env, f, name, res)
		sec.Seconds, sec.LoadEnd = time.Since(began).Seconds(), bench.LoadAverage()
		if err != nil {
			sec.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			logf("%s failed: %v", name, err)
		}
		logf("%s took %s", name, time.Since(began).Round(time.Second))
		res.Sections = append(res.Sections, sec)
		procs.StopAll() // nothing of one section runs into the next
		if err != nil && !f.keepGoing {
			break
		}
	}
	res.Seconds, res.LoadEnd = time.Since(res.Started).Seconds(), bench.LoadAverage()
	return res, errors.Join(errs...)
}

func selected(f *flags) []string {
	var out []string
	for _, s := range sections {
		if f.selected[s] {
			out = append(out, s)
		}
	}
	return out
}

func runSection(ctx context.Context, env *bench.Env, f *flags, name string, res *bench.Results) error {
	var err error
	switch name {
	case sectionDataPath:
		res.DataPath, err = bench.RunDataPath(ctx, env, f.dataPath)
	case sectionInvalidation:
		res.Invalidation, err = bench.RunInvalidation(ctx, env, f.invalidation)
	case sectionMemory:
		res.Memory, err = bench.RunMemory(ctx, env, f.memory)
	case sectionProtection:
		res.Protection, err = bench.RunProtection(ctx, env, f.protection)
	case sectionFleet:
		res.Fleet, err = bench.RunFleet(ctx, env, f.fleet)
	case sectionGateway:
		res.Gateway, err = bench.RunGateway(ctx, env, f.gateway)
	case sectionProfile:
		o := f.profile
		o.Stamp = res.Started.UTC().Format("20060102-150405")
		res.Profile, err = bench.RunProfile(ctx, env, o)
	}
	return err
}

func writeResults(dir, stamp, md string, res *bench.Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results-"+stamp+".json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results-"+stamp+".md"), []byte(md), 0o644)
}
