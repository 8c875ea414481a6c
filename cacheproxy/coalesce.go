package cacheproxy

import (
	"net/http"
	"sync"
)

// Coalescing. Concurrent misses for one object (one Vary variant) share
// one origin request, a flight. The fetch runs on its own goroutine and
// writes the answer into a stream (stream.go) that every client of the
// flight reads at its own pace, the one that started it included: a slow
// client delays nobody else (red team F1). An answer that may be neither
// stored nor shared (no-store, private, Set-Cookie, too large...) is
// streamed to the first client only; the others learn it as soon as its
// header arrives and ask the origin themselves, so the second client of an
// event stream does not wait for the first one's to end. An answer that is
// not streamed (a 304 refreshing the stale copy, an origin failure) is
// served from the fetch's result once it ends.

// flight is one shared fetch, its stream allocated with it.
type flight struct {
	st stream
	// decided is closed once the header is in st (st.status is then set),
	// or once the fetch ended without one and res is set.
	decided chan struct{}
	once    sync.Once    // closes decided
	obj     *object      // the object being built (its Vary), set before decided; nil if none
	res     *fetchResult // set before decided when the answer was not streamed
}

func (fl *flight) decide() { fl.once.Do(func() { close(fl.decided) }) }

// flightGroup holds the flights that clients may still join, by flight key.
type flightGroup struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]*flight
}

// join attaches the caller to the flight of key, starting one (leader)
// when none runs. rd is nil when the running flight can no longer be
// joined: the caller then fetches alone.
func (g *flightGroup) join(key string) (fl *flight, rd *reader, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if fl = g.m[key]; fl != nil {
		return fl, fl.st.attach(), false
	}
	fl, rd = newFlight()
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	g.m[key] = fl
	return fl, rd, true
}

// leave forgets the flight of key, if it is still fl.
func (g *flightGroup) leave(key string, fl *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m[key] == fl {
		delete(g.m, key)
	}
}

func newFlight() (*flight, *reader) {
	fl := &flight{decided: make(chan struct{})}
	return fl, fl.st.init()
}

// fetchCoalesced answers a miss through the flight of its object.
func (p *Proxy) fetchCoalesced(w http.ResponseWriter, r *http.Request, key string, stale *object, vary []string, fwd fwdReason) {
	fk := key
	if vary != nil {
		fk = key + "\x00" + variantValues(vary, r.Header)
	}
	fl, rd, leader := p.flights.join(fk)
	if rd == nil {
		p.fetchAlone(w, r, key, stale, fwd)
		return
	}
	if leader {
		p.startFlight(fl, fk, r, key, stale, fwd)
	}
	p.serveFlight(w, r, key, stale, vary, fwd, fl, rd, leader)
}

// fetchAlone answers a miss through a flight nobody else joins.
func (p *Proxy) fetchAlone(w http.ResponseWriter, r *http.Request, key string, stale *object, fwd fwdReason) {
	fl, rd := newFlight()
	p.startFlight(fl, "", r, key, stale, fwd)
	p.serveFlight(w, r, key, stale, nil, fwd, fl, rd, true)
}

// startFlight runs the fetch of fl on its own goroutine, detached from the
// client that started it (a miss being stored survives its client).
func (p *Proxy) startFlight(fl *flight, fk string, r *http.Request, key string, stale *object, fwd fwdReason) {
	// The fill reads the client's request and never writes it: its header
	// (Vary, the storage decision), and what it forwards (fillhead.go,
	// or a copy fillRequest makes). Its context is not the fill's.
	f := &fill{p: p, key: key, fwd: fwd, reqHeader: r.Header, stale: stale, fl: fl}
	go func() {
		res := p.fetchWith(f, r)
		// Stored (or not) first, then no longer joinable, and only then
		// the end of the body: a client that got a whole answer finds
		// the object stored.
		if fk != "" {
			p.flights.leave(fk, fl)
		}
		fl.st.end(f.sawEOF, res.stored)
		fl.res = res
		fl.decide()
	}()
}

// serveFlight answers one client of a flight.
func (p *Proxy) serveFlight(w http.ResponseWriter, r *http.Request, key string, stale *object, vary []string, fwd fwdReason, fl *flight, rd *reader, leader bool) {
	defer rd.detach()
	select {
	case <-fl.decided:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler) // gone before the answer came: nothing to say
	}
	if fl.st.status != 0 { // written before decided was closed
		if !leader {
			if !fl.st.shared {
				rd.detach()
				p.fetchAlone(w, r, key, stale, fwd)
				return
			}
			if o := fl.obj; vary == nil && o != nil && o.vary() != nil && o.variant() != variantValues(o.vary(), r.Header) {
				rd.detach()
				p.otherVariant(w, r, key, stale, o.vary())
				return
			}
			p.metrics.count(outcomeCollapsed)
		} else {
			p.metrics.count(outcomeMiss)
		}
		rd.serve(w, r, leader, p.cfg.WriteTimeout)
		return
	}
	// Not streamed: decided was closed when the fetch ended, res set.
	rd.detach()
	p.serveResult(w, r, key, stale, vary, fwd, fl.res, leader)
}

// otherVariant answers a client whose flight fetched another variant of a
// URL whose Vary was unknown: it coalesces again, now per variant, unless
// its variant was stored meanwhile.
func (p *Proxy) otherVariant(w http.ResponseWriter, r *http.Request, key string, stale *object, vary []string) {
	now := p.now()
	if mine, _ := p.lookup(key, r.Header); mine != nil && mine.fresh(now) {
		p.metrics.count(outcomeCollapsed)
		p.serveObject(w, r, mine, now, cacheStatus{fwd: fwdVaryMiss, fwdStatus: int(mine.status), collapsed: true, ttl: mine.ttl(now), hasTTL: true})
		return
	}
	p.fetchCoalesced(w, r, key, stale, vary, fwdVaryMiss)
}

// serveResult answers a client of a flight whose answer was not streamed:
// a copy a 304 refreshed, a stale copy standing in for an origin failure,
// or the failure itself.
func (p *Proxy) serveResult(w http.ResponseWriter, r *http.Request, key string, stale *object, vary []string, fwd fwdReason, res *fetchResult, leader bool) {
	now := p.now()
	if o := res.share; o != nil && (o.vary() == nil || o.variant() == variantValues(o.vary(), r.Header)) {
		cs := res.cs
		if leader {
			p.metrics.count(res.outcome)
		} else {
			p.metrics.count(outcomeCollapsed)
			cs.collapsed = true
		}
		cs.ttl, cs.hasTTL = o.ttl(now), res.stored || cs.fwd == fwdStale
		p.serveObject(w, r, o, now, cs)
		return
	}
	switch {
	case res.errStatus == statusClientClosed && leader:
		panic(http.ErrAbortHandler) // the client left: no answer (red team F4)
	case res.errStatus != 0 && res.errStatus != statusClientClosed:
		p.metrics.count(outcomeError)
		cs := res.cs
		cs.collapsed = !leader
		writeOriginError(w, res.errStatus, cs)
	case leader:
		p.metrics.count(outcomeError)
		writeOriginError(w, http.StatusBadGateway, cacheStatus{fwd: fwd, detail: detailOriginError})
	case vary == nil && res.share != nil && res.share.vary() != nil:
		p.otherVariant(w, r, key, stale, res.share.vary())
	default:
		p.fetchAlone(w, r, key, stale, fwd)
	}
}
