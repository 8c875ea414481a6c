package cacheproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// raceOrigin serves /race/... paths: version 1 of a path sends its headers
// and a first part of its body, tells arrived, and sends the rest only when
// its gate closes; version 2 answers at once. Every answer is fresh for an
// hour and tagged with the path.
type raceOrigin struct {
	size int // body bytes of version 1
	// mu guards version and gate.
	mu      sync.Mutex
	version map[string]int
	gate    map[string]chan struct{}
	arrived chan string
}

func newRaceOrigin(size int) *raceOrigin {
	return &raceOrigin{size: size, version: map[string]int{}, gate: map[string]chan struct{}{}, arrived: make(chan string, 16)}
}

func (o *raceOrigin) prepare(path string) chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.version[path] = 1
	g := make(chan struct{})
	o.gate[path] = g
	return g
}

func (o *raceOrigin) bump(path string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.version[path] = 2
}

func (o *raceOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	v, gate := o.version[r.URL.Path], o.gate[r.URL.Path]
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Header().Set("Surrogate-Key", "tag-"+strings.ReplaceAll(r.URL.Path, "/", "-"))
	if v != 1 {
		_, _ = io.WriteString(w, "v2")
		return
	}
	body := "v1" + strings.Repeat(".", o.size-2)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	_, _ = io.WriteString(w, body[:len(body)/2])
	w.(http.Flusher).Flush()
	o.arrived <- r.URL.Path
	<-gate
	_, _ = io.WriteString(w, body[len(body)/2:])
}

// TestInvalidationNeverUndoneByAFetchInFlight races every invalidation
// kind (simple, soft, ban, tag; with and without refetch) against fetches
// that started before it and end after it: a slow origin body, a client
// that reads nothing until after the invalidation, and clients coalesced
// onto the fetch. Between the invalidation and the end of the fetch the
// clock moves past FetchTimeout, another invalidation runs and the ban
// sweeper makes a pass, which is what let old content back in (red team F2,
// F3). Afterwards the old content is never served as fresh: after a simple
// purge, ban or tag purge it is gone; after a soft purge it is at most
// served stale.
func TestInvalidationNeverUndoneByAFetchInFlight(t *testing.T) {
	type kind struct {
		mode    admin.Mode
		byTag   bool
		refetch bool
	}
	kinds := []kind{
		{admin.ModeSimple, false, false}, {admin.ModeSimple, false, true},
		{admin.ModeSoft, false, false}, {admin.ModeSoft, false, true},
		{admin.ModeSimple, true, false}, {admin.ModeSimple, true, true},
		{admin.ModeSoft, true, false},
		{admin.ModeBan, false, false},
	}
	scenarios := []string{"slow-fill", "slow-reader", "coalesced"}
	rounds := 3
	if testing.Short() {
		rounds = 2
	}
	for _, k := range kinds {
		for _, sc := range scenarios {
			name := fmt.Sprintf("%s-tag=%v-refetch=%v/%s", k.mode, k.byTag, k.refetch, sc)
			t.Run(name, func(t *testing.T) {
				size := 64 << 10
				if sc == "slow-reader" {
					size = 1 << 20
				}
				o := newRaceOrigin(size)
				e := newEnv(t, o.serve)
				finished := make(chan int64, 64)
				e.proxy.afterFetch = func(key string, requestTime int64) { finished <- requestTime }
				entered := make(chan struct{}, 16)
				front := e.front.Config.Handler
				e.front.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("X-Waiter") != "" {
						entered <- struct{}{}
					}
					front.ServeHTTP(w, r)
				})
				for round := range rounds {
					path := fmt.Sprintf("/race/%d/x", round)
					gate := o.prepare(path)
					raceOnce(t, e, o, path, gate, finished, entered, k.mode, k.byTag, k.refetch, sc, round)
				}
			})
		}
	}
}

func raceOnce(t *testing.T, e *env, o *raceOrigin, path string, gate chan struct{}, finished chan int64, entered chan struct{},
	mode admin.Mode, byTag, refetch bool, scenario string, round int) {
	t.Helper()
	type result struct {
		body string
		err  error
	}
	leader := make(chan result, 1)
	readBody := make(chan struct{})
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.front.URL+path, nil)
		req.Host = "www.example.com"
		resp, err := e.transport.RoundTrip(req)
		if err != nil {
			leader <- result{err: err}
			return
		}
		defer resp.Body.Close()
		if scenario == "slow-reader" {
			<-readBody
		}
		b, err := io.ReadAll(resp.Body)
		leader <- result{body: string(b), err: err}
	}()
	if got := <-o.arrived; got != path {
		t.Fatalf("origin got %s, want %s", got, path)
	}
	start := e.clock.Now().UnixNano()
	var waiters []chan result
	if scenario == "coalesced" {
		for range 4 {
			ch := make(chan result, 1)
			waiters = append(waiters, ch)
			go func() {
				r, err := e.tryGet(path, "X-Waiter", "1")
				ch <- result{body: r.body, err: err}
			}()
		}
		for range 4 {
			<-entered
		}
	}
	e.clock.Advance(time.Second)
	o.bump(path)
	req := admin.InvalidationRequest{ID: fmt.Sprintf("race-%d", round), Mode: mode, Refetch: refetch}
	switch {
	case byTag:
		req.Tags = []string{"tag-" + strings.ReplaceAll(path, "/", "-")}
	case mode == admin.ModeBan:
		req.URLs = []string{site + strings.TrimSuffix(path, "x")}
	default:
		req.URLs = []string{site + path}
	}
	e.invalidate(req)
	// Let the fetch outlive FetchTimeout, with other invalidations and a
	// ban sweep in between.
	e.clock.Advance(DefaultFetchTimeout + time.Minute)
	e.invalidate(admin.InvalidationRequest{ID: fmt.Sprintf("other-%d", round), Mode: admin.ModeSimple, URLs: []string{site + "/unrelated"}})
	e.proxy.bans.sweep(e.proxy.store)
	close(gate)
	close(readBody)
	if r := <-leader; r.err != nil || !strings.HasPrefix(r.body, "v1") {
		t.Fatalf("the client that asked first got %.10q, %v; want the old content, whole", r.body, r.err)
	}
	for i, w := range waiters {
		if r := <-w; r.err != nil || (!strings.HasPrefix(r.body, "v1") && r.body != "v2") {
			t.Fatalf("waiter %d got %.10q, %v", i, r.body, r.err)
		}
	}
	for requestTime := range finished {
		if requestTime <= start {
			break // the fetch that started before the invalidation has ended
		}
	}
	r := e.get(path)
	switch {
	case !strings.HasPrefix(r.body, "v1"):
	case mode == admin.ModeSoft && strings.Contains(r.cacheStatus(), "fwd=stale"):
	default:
		t.Fatalf("round %d: after the %s invalidation the old content came back: %q", round, mode, r.cacheStatus())
	}
}

// tryGet is get for goroutines other than the test's: it returns the error
// instead of failing the test.
func (e *env) tryGet(path string, header ...string) (response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.front.URL+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = "www.example.com"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.transport.RoundTrip(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}, err
}
