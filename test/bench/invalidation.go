package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Invalidation cost: one cache holding Objects small objects
// (/small/0 .. /small/<Objects-1>, 256-byte bodies), filled through its
// miss path; then bans, purges and tag purges against it, and hits with
// and without active bans. cacheproxy first, then Varnish with the same
// objects and its own tools (HTTP PURGE, CLI bans); never both at once.
//
// Bans and hits. Both servers check a ban lazily, at lookup, against the
// objects stored before it (and remember per object that it was checked),
// so 100 active bans cost a lookup something only the first time it meets
// an object older than them. To compare hits with and without bans in the
// same process at the same moment, the first half of the objects is
// stored, then the 100 bans (matching nothing) are registered, then the
// second half is stored: hits on the first half pay the ban checks, hits
// on the second do not, and the two alternate round by round. "random"
// hits are uniform over a half (500,000 objects), so most of them meet an
// object for the first time since the bans: the worst case; "hot" hits
// cycle over 100 objects: the steady state.

// InvalidationOptions sizes the invalidation benchmark.
type InvalidationOptions struct {
	Objects      int           `json:"objects"`
	Checkpoints  int           `json:"memoryCheckpoints"`
	FillWorkers  int           `json:"fillWorkers"`
	Bans         int           `json:"activeBans"`
	Purges       int           `json:"purges"`
	PurgeWorkers int           `json:"purgeWorkers"`
	EffectTrials int           `json:"banEffectTrials"`
	HitRounds    int           `json:"hitRounds"`
	HitDuration  time.Duration `json:"hitDuration"`
	HotSet       int           `json:"hotSet"`
	Connections  int           `json:"connections"`
	Threads      int           `json:"wrkThreads"`
	CacheSize    int64         `json:"cacheSize"`
}

// MemoryPoint is a server's resident memory at an object count.
type MemoryPoint struct {
	Objects int   `json:"objects"`
	RSS     int64 `json:"rssBytes"`
	// NextGC is cacheproxy's go_memstats_next_gc_bytes (0 for Varnish).
	NextGC int64 `json:"nextGCBytes,omitempty"`
}

// BanHitRun is one wrk run of hits on objects older or newer than the
// active bans.
type BanHitRun struct {
	Pattern       string  `json:"pattern"` // "hot" or "random"
	OlderThanBans bool    `json:"olderThanBans"`
	Round         int     `json:"round"`
	RPS           float64 `json:"rps"`
	P50Millis     float64 `json:"p50Millis"`
	P99Millis     float64 `json:"p99Millis"`
	CPUMicros     float64 `json:"cpuMicrosPerRequest"`
	Origin        int64   `json:"originRequests"`
}

// InvalidationServerResult is what one server measured.
type InvalidationServerResult struct {
	Server      string        `json:"server"`
	FillSeconds float64       `json:"fillSeconds"`
	Memory      []MemoryPoint `json:"memory"`
	// BytesPerObject is the slope of RSS against the object count.
	BytesPerObject float64 `json:"rssBytesPerObject"`
	// ChargedPerObject is what cacheproxy's accounting charges per object.
	ChargedPerObject float64 `json:"chargedBytesPerObject,omitempty"`
	// HeapPerObject is cacheproxy's live Go heap per object: the slope of
	// the heap goal (go_memstats_next_gc_bytes, twice the heap marked live
	// by the last GC at GOGC=100) halved, against the object count.
	HeapPerObject float64 `json:"liveHeapBytesPerObject,omitempty"`

	// BanRegister is the client round trip of registering each of the
	// Bans non-matching bans, with half the objects stored; BanServer is
	// cacheproxy's own durationMillis for them. BanRegisterFull and
	// BanServerFull are the same for a few more bans with every object
	// stored.
	BanRegister     Summary `json:"banRegisterMillis"`
	BanServer       Summary `json:"banServerMillis"`
	BanRegisterFull Summary `json:"banRegisterFullMillis"`
	BanServerFull   Summary `json:"banServerFullMillis"`
	// BanEffect is the time from sending a matching ban to sending the
	// first request for a banned URL that missed (one client requests it
	// in a loop, one request at a time, so the ban was in effect when that
	// request was looked up); BanEffectAnswered is when that miss was
	// answered (it includes the origin fetch); BanEffectRTT is the ban
	// request's own round trip in those trials.
	BanEffect         Summary `json:"banEffectMillis"`
	BanEffectAnswered Summary `json:"banEffectAnsweredMillis"`
	BanEffectRTT      Summary `json:"banEffectRegisterMillis"`
	BanEffectServer   Summary `json:"banEffectServerMillis"` // cacheproxy's durationMillis
	ActiveBans        int64   `json:"activeBansAfterHits"`

	Hits []BanHitRun `json:"hits"`
	// Median requests/s of each pattern with 0 and with Bans bans, and
	// the cost (1 - with/without) in percent.
	HotCost    BanCost `json:"hotBanCost"`
	RandomCost BanCost `json:"randomBanCost"`

	PurgeSequentialMillis float64 `json:"purgeSequentialMillis"`
	PurgeConcurrentMillis float64 `json:"purgeConcurrentMillis"`
	PurgeBatchMillis      float64 `json:"purgeBatchMillis"`       // -1: not possible
	PurgeBatchServer      float64 `json:"purgeBatchServerMillis"` // -1: not reported
	PurgedObjects         int64   `json:"purgedObjects"`

	TagMillis       float64 `json:"tagPurgeMillis"`
	TagServerMillis float64 `json:"tagPurgeServerMillis"` // -1: not reported
	TagInvalidated  int64   `json:"tagPurgeInvalidated"`  // -1: not reported
	TagHow          string  `json:"tagPurgeHow"`

	Notes []string `json:"notes,omitempty"`
}

// InvalidationResult is the whole invalidation benchmark.
type InvalidationResult struct {
	Options InvalidationOptions        `json:"options"`
	Servers []InvalidationServerResult `json:"servers"`
}

func smallPath(i int) string { return "/small/" + strconv.Itoa(i) }

// RunInvalidation runs the invalidation benchmark on cacheproxy, then Varnish.
func RunInvalidation(ctx context.Context, env *Env, o InvalidationOptions) (*InvalidationResult, error) {
	res := &InvalidationResult{Options: o}
	for _, kind := range []string{KindCacheproxy, KindVarnish} {
		r, err := invalidationOn(ctx, env, kind, o)
		if r != nil {
			res.Servers = append(res.Servers, *r)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", kind, err)
		}
	}
	return res, nil
}

func invalidationOn(ctx context.Context, env *Env, kind string, o InvalidationOptions) (*InvalidationServerResult, error) {
	// The sweeper would retire the non-matching bans within seconds (it
	// checks every object in the background): an hour keeps them active
	// through the hit measurement, the worst case for the lookup path.
	s, err := StartServer(ctx, env, kind, ServerOptions{CacheSize: o.CacheSize, ExtraArgs: []string{"--ban-sweep-interval=1h"}})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	r := &InvalidationServerResult{Server: kind}
	half := o.Objects / 2

	env.Logf("invalidation %s: filling %d objects, %d bans after the first half", kind, o.Objects, o.Bans)
	start := time.Now()
	if err := fillMeasured(ctx, s, o, r, 0, half); err != nil {
		return r, err
	}
	fillTime := time.Since(start)
	if r.BanRegister, r.BanServer, err = registerBans(ctx, s, o.Bans, "/nomatch"); err != nil {
		return r, err
	}
	env.Logf("invalidation %s: %d bans at %d objects, round trip p50 %s ms", kind, o.Bans, half, fmtMs(r.BanRegister.P50))
	start = time.Now()
	if err := fillMeasured(ctx, s, o, r, half, o.Objects); err != nil {
		return r, err
	}
	r.FillSeconds = (fillTime + time.Since(start)).Seconds()
	memoryPerObject(ctx, s, o, r)
	env.Logf("invalidation %s: %d objects in %.0fs, %.0f RSS bytes/object", kind, o.Objects, r.FillSeconds, r.BytesPerObject)

	if err := banHits(ctx, env, s, o, r, half); err != nil {
		return r, err
	}
	r.HotCost, r.RandomCost = hitCost(r.Hits, patternHot), hitCost(r.Hits, patternRandom)
	if st, err := s.Stats(ctx); err == nil {
		r.ActiveBans = st.ActiveBans
	}
	if r.BanRegisterFull, r.BanServerFull, err = registerBans(ctx, s, fullBans, "/nomatch-full"); err != nil {
		return r, err
	}
	env.Logf("invalidation %s: %d more bans at %d objects, round trip p50 %s ms", kind, fullBans, o.Objects, fmtMs(r.BanRegisterFull.P50))
	if err := banEffect(ctx, s, o, r); err != nil {
		return r, err
	}
	env.Logf("invalidation %s: ban effect p50 %s ms", kind, fmtMs(r.BanEffect.P50))
	if err := purges(ctx, s, o, r); err != nil {
		return r, err
	}
	env.Logf("invalidation %s: %d purges sequential %s ms, concurrent %s ms", kind, o.Purges, fmtMs(r.PurgeSequentialMillis), fmtMs(r.PurgeConcurrentMillis))
	if err := tagPurge(ctx, s, r); err != nil {
		return r, err
	}
	env.Logf("invalidation %s: tag purge of %d objects %s ms", kind, TagGroupSize, fmtMs(r.TagMillis))
	return r, nil
}

// fullBans is how many more non-matching bans are timed with every object
// stored.
const fullBans = 10

// fillMeasured stores objects [from, to) in Checkpoints/2 steps and reads
// the RSS after each (and before the first, at from 0).
func fillMeasured(ctx context.Context, s *Server, o InvalidationOptions, r *InvalidationServerResult, from, to int) error {
	if from == 0 {
		u, err := s.Usage()
		if err != nil {
			return err
		}
		r.Memory = append(r.Memory, MemoryPoint{Objects: 0, RSS: u.RSS, NextGC: s.goHeapGoal(ctx)})
	}
	steps := max(o.Checkpoints/2, 1)
	step := (to - from + steps - 1) / steps
	for lo := from; lo < to; lo += step {
		hi := min(lo+step, to)
		if err := Fill(ctx, s.URL(), lo, hi, o.FillWorkers, smallPath); err != nil {
			return fmt.Errorf("filling: %w", err)
		}
		u, err := s.Usage()
		if err != nil {
			return err
		}
		r.Memory = append(r.Memory, MemoryPoint{Objects: hi, RSS: u.RSS, NextGC: s.goHeapGoal(ctx)})
	}
	return nil
}

// memoryPerObject fits RSS (and cacheproxy's live heap) against the
// object count, and checks every object was stored.
func memoryPerObject(ctx context.Context, s *Server, o InvalidationOptions, r *InvalidationServerResult) {
	// The point at 0 objects includes start-up allocations (buffers,
	// pools); fit over the filled points.
	points := r.Memory[1:]
	if len(points) < 2 {
		points = r.Memory
	}
	xs, rss, heap := make([]float64, 0, len(points)), make([]float64, 0, len(points)), make([]float64, 0, len(points))
	for _, p := range points {
		xs, rss, heap = append(xs, float64(p.Objects)), append(rss, float64(p.RSS)), append(heap, float64(p.NextGC)/2)
	}
	r.BytesPerObject, _ = LinearFit(xs, rss)
	if s.Kind == KindCacheproxy {
		r.HeapPerObject, _ = LinearFit(xs, heap)
	}
	if st, err := s.Stats(ctx); err == nil && st.Objects > 0 {
		r.ChargedPerObject = float64(st.Bytes) / float64(st.Objects)
		if st.Objects != int64(o.Objects) {
			r.Notes = append(r.Notes, fmt.Sprintf("cacheproxy holds %d objects after the fill, not %d", st.Objects, o.Objects))
		}
	}
	if n, err := s.VarnishCounter(ctx, "MAIN.n_object"); err == nil && n < int64(o.Objects) {
		r.Notes = append(r.Notes, fmt.Sprintf("Varnish holds %d objects after the fill, not %d", n, o.Objects))
	}
}

// patternHot names the hot-set hits of the invalidation benchmark; the
// other pattern is patternRandom, uniform over a half.
const patternHot = "hot"

// banHits alternates hits on objects older than the bans (the first
// half) with hits on objects newer than them (the second half), hot and
// random, after a settling run.
func banHits(ctx context.Context, env *Env, s *Server, o InvalidationOptions, r *InvalidationServerResult, half int) error {
	type load struct {
		pattern string
		older   bool
		args    []string
	}
	loads := make([]load, 0, 4)
	for _, older := range []bool{true, false} {
		first := 0
		if !older {
			first = half
		}
		loads = append(loads,
			load{patternHot, older, []string{patternList, "/small/", strconv.Itoa(o.HotSet), strconv.Itoa(first)}},
			load{patternRandom, older, []string{patternRandom, "/small/", strconv.Itoa(half), strconv.Itoa(first)}})
	}
	// Settle: the fill's garbage collections and connections wind down
	// before anything is measured (hot objects of the second half: no
	// ban checks are spent).
	if _, err := (WrkRun{URL: s.URL(), Connections: o.Connections, Threads: o.Threads, Duration: 2 * time.Second,
		Script: env.Script(), Args: loads[2].args}).Run(ctx, env.Wrk); err != nil {
		return err
	}
	for round := 1; round <= o.HitRounds; round++ {
		for _, pattern := range []string{patternHot, patternRandom} {
			// Older first in odd rounds, newer first in even ones (A B B A),
			// so neither side always runs right after the other pattern.
			order := []bool{true, false}
			if round%2 == 0 {
				order = []bool{false, true}
			}
			for _, older := range order {
				l := loads[0]
				for _, c := range loads {
					if c.pattern == pattern && c.older == older {
						l = c
					}
				}
				run, err := banHitRun(ctx, env, s, o, l.args)
				if err != nil {
					return err
				}
				run.Pattern, run.OlderThanBans, run.Round = l.pattern, l.older, round
				r.Hits = append(r.Hits, run)
				age := "newer"
				if l.older {
					age = "older"
				}
				env.Logf("  %s hits on objects %s than the bans, round %d: %.0f req/s, %.1f µs CPU/req, p99 %.2f ms, origin %d",
					l.pattern, age, round, run.RPS, run.CPUMicros, run.P99Millis, run.Origin)
			}
		}
	}
	return nil
}

func banHitRun(ctx context.Context, env *Env, s *Server, o InvalidationOptions, args []string) (BanHitRun, error) {
	origin0 := env.Origin.Requests()
	u0, err := s.Usage()
	if err != nil {
		return BanHitRun{}, err
	}
	w, err := WrkRun{URL: s.URL(), Connections: o.Connections, Threads: o.Threads, Duration: o.HitDuration,
		Script: env.Script(), Args: args}.Run(ctx, env.Wrk)
	if err != nil {
		return BanHitRun{}, err
	}
	u1, err := s.Usage()
	if err != nil {
		return BanHitRun{}, err
	}
	run := BanHitRun{RPS: w.RPS(), P50Millis: float64(w.LatencyMicros.P50) / 1000, P99Millis: float64(w.LatencyMicros.P99) / 1000,
		Origin: env.Origin.Requests() - origin0}
	if w.Requests > 0 {
		run.CPUMicros = float64((u1.CPU - u0.CPU).Microseconds()) / float64(w.Requests)
	}
	return run, nil
}

// BanCost compares hits of one pattern on objects newer than the bans
// (nothing to check) and older (checked): median requests/s and CPU per
// request, and the cost in percent of each (positive: slower or dearer).
type BanCost struct {
	RPS0       float64 `json:"rpsNoBans"`
	RPSBans    float64 `json:"rpsWithBans"`
	RPSCost    float64 `json:"rpsCostPercent"`
	CPU0       float64 `json:"cpuMicrosNoBans"`
	CPUBans    float64 `json:"cpuMicrosWithBans"`
	CPUCost    float64 `json:"cpuCostPercent"`
	HasResults bool    `json:"-"`
}

func hitCost(runs []BanHitRun, pattern string) BanCost {
	var rps0, rps1, cpu0, cpu1 []float64
	for _, h := range runs {
		switch {
		case h.Pattern == pattern && !h.OlderThanBans:
			rps0, cpu0 = append(rps0, h.RPS), append(cpu0, h.CPUMicros)
		case h.Pattern == pattern && h.OlderThanBans:
			rps1, cpu1 = append(rps1, h.RPS), append(cpu1, h.CPUMicros)
		}
	}
	c := BanCost{RPS0: Median(rps0), RPSBans: Median(rps1), CPU0: Median(cpu0), CPUBans: Median(cpu1)}
	if c.RPS0 > 0 && c.RPSBans > 0 {
		c.RPSCost = (1 - c.RPSBans/c.RPS0) * 100
		c.HasResults = true
	}
	if c.CPU0 > 0 {
		c.CPUCost = (c.CPUBans/c.CPU0 - 1) * 100
	}
	return c
}

// ban registers one ban of a URL prefix (a path under Host) and returns
// the client round trip and, for cacheproxy, the server's own time.
func ban(ctx context.Context, s *Server, pathPrefix string) (time.Duration, float64, error) {
	start := time.Now()
	switch s.Kind {
	case KindCacheproxy:
		res, err := s.Invalidate(ctx, admin.InvalidationRequest{ID: nextID("ban"), Mode: admin.ModeBan, URLs: []string{"https://" + Host + pathPrefix}})
		return time.Since(start), float64(res.DurationMillis), err
	case KindVarnish:
		_, err := s.VarnishCommand(`ban req.url ~ "^` + pathPrefix + `"`)
		return time.Since(start), math.NaN(), err
	}
	return 0, 0, ErrUnsupported
}

// registerBans adds n bans on prefix<i>/, which match no stored object,
// and summarises their round trips and (cacheproxy) server times.
func registerBans(ctx context.Context, s *Server, n int, prefix string) (rtt, server Summary, err error) {
	var rtts []time.Duration
	var srv []float64
	for i := range n {
		d, ms, err := ban(ctx, s, prefix+strconv.Itoa(i)+"/")
		if err != nil {
			return rtt, server, fmt.Errorf("registering ban %d: %w", i, err)
		}
		rtts = append(rtts, d)
		if !math.IsNaN(ms) {
			srv = append(srv, ms)
		}
	}
	if len(srv) > 0 {
		server = summarizeMillis(srv)
	}
	return Summarize(rtts), server, nil
}

func summarizeMillis(ms []float64) Summary {
	ds := make([]time.Duration, len(ms))
	for i, m := range ms {
		ds[i] = time.Duration(m * float64(time.Millisecond))
	}
	return Summarize(ds)
}

// banEffect bans /small/9<d> (about 11,000 objects) while a client keeps
// requesting one of them, and times the first miss.
func banEffect(ctx context.Context, s *Server, o InvalidationOptions, r *InvalidationServerResult) error {
	var effects, answered, rtts []time.Duration
	var server []float64
	c := &http.Client{Transport: newTransport(1), Timeout: 10 * time.Second}
	for trial := range o.EffectTrials {
		prefix := "/small/9" + strconv.Itoa(trial)
		target := s.URL() + prefix + "0" // /small/9d0: stored, matched
		if h, err := get(ctx, c, target); err != nil || !s.IsHit(h) {
			return fmt.Errorf("ban effect: %s is not a hit before the ban (error: %w)", target, err)
		}
		// Every answer is a hit until the ban applies, so the first miss
		// answered after the ban was sent is the ban's doing (the request
		// may have been sent a moment before it).
		var sent atomic.Bool
		missAt := make(chan [2]time.Time, 1) // the missed request's send and answer times
		loopCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			for loopCtx.Err() == nil {
				began := time.Now()
				h, err := get(loopCtx, c, target)
				if err != nil {
					continue
				}
				if !s.IsHit(h) && sent.Load() {
					missAt <- [2]time.Time{began, time.Now()}
					return
				}
			}
		})
		time.Sleep(20 * time.Millisecond) // let the loop get going
		t0 := time.Now()
		sent.Store(true)
		rtt, serverMillis, err := ban(ctx, s, prefix)
		if err != nil {
			stop()
			wg.Wait()
			return fmt.Errorf("ban effect: %w", err)
		}
		select {
		case at := <-missAt:
			effects = append(effects, max(at[0].Sub(t0), 0))
			answered = append(answered, at[1].Sub(t0))
		case <-time.After(10 * time.Second):
			stop()
			wg.Wait()
			return fmt.Errorf("ban effect: %s still a hit 10s after the ban", target)
		}
		stop()
		wg.Wait()
		rtts = append(rtts, rtt)
		if !math.IsNaN(serverMillis) {
			server = append(server, serverMillis)
		}
	}
	r.BanEffect, r.BanEffectAnswered, r.BanEffectRTT = Summarize(effects), Summarize(answered), Summarize(rtts)
	if len(server) > 0 {
		r.BanEffectServer = summarizeMillis(server)
	}
	return nil
}

// purges times Purges single-URL purges, one after another on one
// connection, then from PurgeWorkers connections at once, then (cacheproxy)
// as one admin call naming them all.
func purges(ctx context.Context, s *Server, o InvalidationOptions, r *InvalidationServerResult) error {
	base := 200000
	if base+3*o.Purges > o.Objects {
		base = o.Objects / 2
	}
	objects0 := objectCount(ctx, s)
	// Sequential.
	start := time.Now()
	for i := range o.Purges {
		if err := s.PurgeURL(ctx, smallPath(base+i), false); err != nil {
			return fmt.Errorf("purge %d: %w", i, err)
		}
	}
	r.PurgeSequentialMillis = msSince(start)
	// Concurrent.
	var next atomic.Int64
	var firstErr atomic.Value
	start = time.Now()
	var wg sync.WaitGroup
	for range o.PurgeWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.Purges {
					return
				}
				if err := s.PurgeURL(ctx, smallPath(base+o.Purges+i), false); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	r.PurgeConcurrentMillis = msSince(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("concurrent purges: %w", err)
	}
	// One call.
	if s.Kind == KindCacheproxy {
		urls := make([]string, o.Purges)
		for i := range urls {
			urls[i] = "https://" + Host + smallPath(base+2*o.Purges+i)
		}
		start = time.Now()
		res, err := s.Invalidate(ctx, admin.InvalidationRequest{ID: nextID("batch"), Mode: admin.ModeSimple, URLs: urls})
		if err != nil {
			return fmt.Errorf("batch purge: %w", err)
		}
		r.PurgeBatchMillis, r.PurgeBatchServer = msSince(start), float64(res.DurationMillis)
	} else {
		r.PurgeBatchMillis, r.PurgeBatchServer = -1, -1 // n/a
	}
	if objects0 >= 0 {
		r.PurgedObjects = objects0 - objectCount(ctx, s)
	}
	return nil
}

// objectCount is the server's stored object count, -1 if unknown.
func objectCount(ctx context.Context, s *Server) int64 {
	if st, err := s.Stats(ctx); err == nil {
		return st.Objects
	}
	if n, err := s.VarnishCounter(ctx, "MAIN.n_object"); err == nil {
		return n
	}
	return -1
}

// tagPurge invalidates the TagGroupSize objects tagged k50 (/small/500000
// to /small/509999), or the middle group when fewer are stored.
func tagPurge(ctx context.Context, s *Server, r *InvalidationServerResult) error {
	group := 50
	if n := objectCount(ctx, s); n >= 0 && n < 510000 {
		group = int(n/TagGroupSize) / 2
	}
	tag := "k" + strconv.Itoa(group)
	probe := s.URL() + smallPath(group*TagGroupSize+1)
	start := time.Now()
	switch s.Kind {
	case KindCacheproxy:
		r.TagHow = "admin API, mode simple, tags [" + tag + "]"
		res, err := s.Invalidate(ctx, admin.InvalidationRequest{ID: nextID("tag"), Mode: admin.ModeSimple, Tags: []string{tag}})
		if err != nil {
			return fmt.Errorf("tag purge: %w", err)
		}
		r.TagMillis, r.TagServerMillis, r.TagInvalidated = msSince(start), float64(res.DurationMillis), res.Invalidated
	case KindVarnish:
		r.TagHow = `CLI "ban obj.http.Surrogate-Key ~ \b` + tag + `\b" (lazy: in effect at once, memory freed later by the ban lurker)`
		if _, err := s.VarnishCommand(`ban obj.http.Surrogate-Key ~ "\\b` + tag + `\\b"`); err != nil {
			return fmt.Errorf("tag ban: %w", err)
		}
		r.TagMillis, r.TagServerMillis, r.TagInvalidated = msSince(start), -1, -1 // n/a: a ban reports no count
	default:
		return ErrUnsupported
	}
	h, err := get(ctx, quickClient, probe)
	if err != nil {
		return err
	}
	if s.IsHit(h) {
		return errors.New("tag purge: a tagged object is still a hit")
	}
	return nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }
