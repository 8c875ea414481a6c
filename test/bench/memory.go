package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Memory per object: each server alone, filled through its miss path with
// Objects objects of one body size (the origin's /small/ 256-byte and /1k/
// 1 KiB classes, each with the origin's six fields and three surrogate
// keys), RSS read at checkpoints and fitted against the object count.
// cacheproxy runs twice, as it starts by default (--gc-headroom=64Mi: the
// collector's growth held near a fixed headroom once the store dominates
// the heap) and with --gc-headroom=0 (GOGC 100), and, with run.sh
// --baseline, as built from the earlier commit. Since the headroom means
// more collections, the purges that make bench's invalidation section
// times (single-URL purges one after another, a tag purge of 10,000
// objects) are timed here too, beside the stored objects, for each
// cacheproxy run.

// MemoryOptions sizes the memory benchmark.
type MemoryOptions struct {
	Objects     int      `json:"objects"`
	Checkpoints int      `json:"checkpoints"`
	FillWorkers int      `json:"fillWorkers"`
	Classes     []string `json:"classes"` // origin body classes: "small", "1k"
	Purges      int      `json:"purges"`
	CacheSize   int64    `json:"cacheSize"`
	// Variant is the flags of a second cacheproxy run (--gc-headroom=0);
	// empty skips it.
	Variant []string `json:"cacheproxyVariant,omitempty"`
}

// MemoryRun is one server filled with one body class.
type MemoryRun struct {
	Server string        `json:"server"` // a server kind, with the variant's flags for the second cacheproxy run
	Class  string        `json:"class"`
	Body   int           `json:"bodyBytes"`
	Memory []MemoryPoint `json:"memory"`
	// BytesPerObject is the slope of RSS against the object count.
	BytesPerObject float64 `json:"rssBytesPerObject"`
	// HeapGoalPerObject is the slope of cacheproxy's heap goal
	// (go_memstats_next_gc_bytes): twice the live heap at GOGC 100, less
	// with the headroom.
	HeapGoalPerObject float64 `json:"heapGoalBytesPerObject,omitempty"`
	ChargedPerObject  float64 `json:"chargedBytesPerObject,omitempty"`
	FillSeconds       float64 `json:"fillSeconds"`
	// PurgeMillis is Purges single-URL purges one after another; TagMillis
	// a tag purge of TagGroupSize objects (cacheproxy only), -1 when not
	// measured.
	PurgeMillis float64  `json:"purgeSequentialMillis"`
	TagMillis   float64  `json:"tagPurgeMillis"`
	Notes       []string `json:"notes,omitempty"`
}

// MemoryResult is the whole memory benchmark.
type MemoryResult struct {
	Options MemoryOptions `json:"options"`
	Runs    []MemoryRun   `json:"runs"`
}

// memoryServer is one server configuration of the memory benchmark.
type memoryServer struct {
	kind, label string
	args        []string
}

// RunMemory runs the memory benchmark: for each body class, each server in
// turn, never two at once.
func RunMemory(ctx context.Context, env *Env, o MemoryOptions) (*MemoryResult, error) {
	res := &MemoryResult{Options: o}
	servers := []memoryServer{{kind: KindCacheproxy, label: KindCacheproxy}}
	if len(o.Variant) > 0 {
		servers = append(servers, memoryServer{kind: KindCacheproxy, label: KindCacheproxy + " " + strings.Join(o.Variant, " "), args: o.Variant})
	}
	if env.BaselineBin != "" {
		servers = append(servers, memoryServer{kind: KindCacheproxyBefore, label: KindCacheproxyBefore})
	}
	servers = append(servers, memoryServer{kind: KindVarnish, label: KindVarnish})
	for _, class := range o.Classes {
		body, ok := bodies[class]
		if !ok {
			return res, fmt.Errorf("memory: unknown body class %q", class)
		}
		for _, srv := range servers {
			run, err := memoryOn(ctx, env, srv, class, len(body), o)
			if run != nil {
				res.Runs = append(res.Runs, *run)
			}
			if err != nil {
				return res, fmt.Errorf("%s, %s bodies: %w", srv.label, class, err)
			}
		}
	}
	return res, nil
}

func memoryOn(ctx context.Context, env *Env, srv memoryServer, class string, body int, o MemoryOptions) (*MemoryRun, error) {
	s, err := StartServer(ctx, env, srv.kind, ServerOptions{CacheSize: o.CacheSize, ExtraArgs: srv.args})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	r := &MemoryRun{Server: srv.label, Class: class, Body: body, PurgeMillis: -1, TagMillis: -1}
	path := func(i int) string { return "/" + class + "/" + strconv.Itoa(i) }
	env.Logf("memory %s: filling %d objects of %d B", srv.label, o.Objects, body)
	u, err := s.Usage()
	if err != nil {
		return r, err
	}
	r.Memory = append(r.Memory, MemoryPoint{Objects: 0, RSS: u.RSS, NextGC: s.goHeapGoal(ctx)})
	start := time.Now()
	steps := max(o.Checkpoints, 2)
	step := (o.Objects + steps - 1) / steps
	for lo := 0; lo < o.Objects; lo += step {
		hi := min(lo+step, o.Objects)
		if err := Fill(ctx, s.URL(), lo, hi, o.FillWorkers, path); err != nil {
			return r, fmt.Errorf("filling: %w", err)
		}
		if u, err = s.Usage(); err != nil {
			return r, err
		}
		r.Memory = append(r.Memory, MemoryPoint{Objects: hi, RSS: u.RSS, NextGC: s.goHeapGoal(ctx)})
	}
	r.FillSeconds = time.Since(start).Seconds()
	// The point at 0 objects includes start-up allocations: fit over the
	// filled points.
	xs, rss, goal := make([]float64, 0, steps), make([]float64, 0, steps), make([]float64, 0, steps)
	for _, p := range r.Memory[1:] {
		xs, rss, goal = append(xs, float64(p.Objects)), append(rss, float64(p.RSS)), append(goal, float64(p.NextGC))
	}
	r.BytesPerObject, _ = LinearFit(xs, rss)
	if srv.kind != KindVarnish {
		r.HeapGoalPerObject, _ = LinearFit(xs, goal)
	}
	if n := objectCount(ctx, s); n >= 0 && n < int64(o.Objects) { // Varnish counts an object of its own
		r.Notes = append(r.Notes, fmt.Sprintf("%d objects stored after the fill, not %d", n, o.Objects))
	}
	if st, err := s.Stats(ctx); err == nil && st.Objects > 0 {
		r.ChargedPerObject = float64(st.Bytes) / float64(st.Objects)
	}
	env.Logf("memory %s: %d objects of %d B in %.0fs, %.0f RSS bytes/object", srv.label, o.Objects, body, r.FillSeconds, r.BytesPerObject)
	if srv.kind == KindVarnish || o.Purges == 0 {
		return r, nil
	}
	// Purges beside the stored objects: a quarter of the way in, clear of
	// the tag group purged next.
	start = time.Now()
	for i := range o.Purges {
		if err := s.PurgeURL(ctx, path(o.Objects/4+i), false); err != nil {
			return r, fmt.Errorf("purge %d: %w", i, err)
		}
	}
	r.PurgeMillis = msSince(start)
	group := o.Objects / TagGroupSize / 2
	start = time.Now()
	res, err := s.Invalidate(ctx, admin.InvalidationRequest{ID: nextID("memtag"), Mode: admin.ModeSimple, Tags: []string{"k" + strconv.Itoa(group)}})
	if err != nil {
		return r, fmt.Errorf("tag purge: %w", err)
	}
	r.TagMillis = msSince(start)
	if want := int64(min(TagGroupSize, o.Objects-group*TagGroupSize)); res.Invalidated != want {
		r.Notes = append(r.Notes, fmt.Sprintf("the tag purge invalidated %d objects, not %d", res.Invalidated, want))
	}
	env.Logf("memory %s: %d purges %s ms, tag purge %s ms", srv.label, o.Purges, fmtMs(r.PurgeMillis), fmtMs(r.TagMillis))
	return r, nil
}

func (r *MemoryResult) markdown(b *strings.Builder) {
	o := r.Options
	fmt.Fprintf(b, "## Memory per object\n\n%s objects of one body size in one server at a time, stored through its miss path "+
		"(%d connections), the origin's six fields and three surrogate keys each; RSS read at %d checkpoints and fitted against the "+
		"object count (slope). cacheproxy's heap goal is go_memstats_next_gc_bytes (twice the live heap at GOGC 100). Then, for "+
		"cacheproxy, %s single-URL purges one after another and a tag purge of %s objects beside what is stored.\n\n",
		fmtInt(float64(o.Objects)), o.FillWorkers, max(o.Checkpoints, 2), fmtInt(float64(o.Purges)), fmtInt(TagGroupSize))
	b.WriteString("| server | body | RSS per object | heap goal per object | charged per object | fill | purges | tag purge |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, run := range r.Runs {
		opt := func(v float64, format func(float64) string) string {
			if v <= 0 {
				return notApplicable
			}
			return format(v)
		}
		bytes := func(v float64) string { return fmtInt(v) + " B" }
		ms := func(v float64) string { return fmtMs(v) + " ms" }
		fmt.Fprintf(b, "| %s | %d B | **%s B** | %s | %s | %.0f s | %s | %s |\n", run.Server, run.Body, fmtInt(run.BytesPerObject),
			opt(run.HeapGoalPerObject, bytes), opt(run.ChargedPerObject, bytes), run.FillSeconds, opt(run.PurgeMillis, ms), opt(run.TagMillis, ms))
	}
	b.WriteString("\n")
	for _, run := range r.Runs {
		fmt.Fprintf(b, "- %s, %d B: RSS by objects stored:", run.Server, run.Body)
		for _, p := range run.Memory {
			fmt.Fprintf(b, " %s: %.0f MiB;", fmtInt(float64(p.Objects)), float64(p.RSS)/(1<<20))
		}
		for _, n := range run.Notes {
			fmt.Fprintf(b, " %s.", n)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}
