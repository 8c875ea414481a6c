package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Origin protection: a hot object on a slow origin path, requested
// continuously from Connections connections, is purged; the origin
// requests for it in the next Window are counted. The goal is one: every
// concurrent miss coalesced into one fetch (simple purge), or the stale
// copy served while one background request refreshes it (soft purge).

// ProtectionOptions sizes the origin protection benchmark.
type ProtectionOptions struct {
	Connections int           `json:"connections"`
	Before      time.Duration `json:"loadBeforePurge"`
	Window      time.Duration `json:"window"`
	SlowDelay   time.Duration `json:"originDelay"`
}

// ProtectionRun is one purge under load.
type ProtectionRun struct {
	Server string `json:"server"`
	Mode   string `json:"mode"` // simple or soft
	// OriginRequests is how many requests for the object reached the
	// origin in the Window after the purge was sent; -1 when skipped.
	OriginRequests int64   `json:"originRequests"`
	PurgeMillis    float64 `json:"purgeMillis"`
	ClientOK       int64   `json:"clientResponses"`
	ClientErrors   int64   `json:"clientErrors"`
	Skipped        string  `json:"skipped,omitempty"`
}

// ProtectionResult is the whole origin protection benchmark.
type ProtectionResult struct {
	Options ProtectionOptions `json:"options"`
	Runs    []ProtectionRun   `json:"runs"`
}

// RunProtection runs the origin protection benchmark on every server.
func RunProtection(ctx context.Context, env *Env, o ProtectionOptions) (*ProtectionResult, error) {
	res := &ProtectionResult{Options: o}
	for _, kind := range Kinds {
		s, err := StartServer(ctx, env, kind, ServerOptions{CacheSize: 256 << 20})
		if err != nil {
			return res, err
		}
		for _, mode := range []string{"simple", "soft"} {
			run, err := protect(ctx, env, s, mode, o)
			if err != nil {
				s.Stop()
				return res, fmt.Errorf("%s %s: %w", kind, mode, err)
			}
			res.Runs = append(res.Runs, run)
			if run.Skipped != "" {
				env.Logf("origin protection %s %s: skipped (%s)", kind, mode, run.Skipped)
			} else {
				env.Logf("origin protection %s %s: %d origin requests in %s after the purge (%d answers, %d errors)",
					kind, mode, run.OriginRequests, o.Window, run.ClientOK, run.ClientErrors)
			}
		}
		s.Stop()
	}
	return res, nil
}

func protect(ctx context.Context, env *Env, s *Server, mode string, o ProtectionOptions) (ProtectionRun, error) {
	run := ProtectionRun{Server: s.Kind, Mode: mode, OriginRequests: -1}
	soft := mode == "soft"
	if !s.CanPurge(soft) {
		run.Skipped = "nginx cannot " + map[bool]string{false: "purge without the cache purge module", true: "soft-purge"}[soft]
		return run, nil
	}
	path := "/slow/hot-" + s.Kind + "-" + mode
	url := s.URL() + path
	if _, err := get(ctx, quickClient, url); err != nil {
		return run, err
	}
	if h, err := get(ctx, quickClient, url); err != nil || !s.IsHit(h) {
		return run, fmt.Errorf("%s is not a hit after warming (error: %w)", path, err)
	}
	loadCtx, stop := context.WithCancel(ctx)
	defer stop()
	h := startHammer(loadCtx, url, o.Connections)
	time.Sleep(o.Before)
	before := env.Origin.PathRequests(path)
	ok0, err0 := h.ok.Load(), h.errs.Load()
	start := time.Now()
	if err := s.PurgeURL(ctx, path, soft); err != nil {
		if errors.Is(err, ErrUnsupported) {
			run.Skipped = err.Error()
			return run, nil
		}
		return run, err
	}
	run.PurgeMillis = msSince(start)
	time.Sleep(o.Window - time.Since(start))
	run.OriginRequests = env.Origin.PathRequests(path) - before
	run.ClientOK, run.ClientErrors = h.ok.Load()-ok0, h.errs.Load()-err0
	stop()
	<-h.done
	return run, nil
}
