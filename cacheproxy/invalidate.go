package cacheproxy

import (
	"context"
	"fmt"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Invalidation (the admin API's POST /v1/invalidations, DESIGN.md).
//
// Time T: the first receipt of an id. Simple and soft purges (by URL or tag)
// affect the objects stored before T, where "stored" means the request time
// of the fetch or the last revalidation that brought the content: the
// origin vouched for anything newer. A ban applies to objects stored before
// T. Fetches in flight are marked first (inflight.go), so a fetch that
// started before T and finishes after it, however late, cannot store what
// the invalidation removed.
//
// Counting: Matched counts the stored objects the request matches (each
// Vary variant apart, each object once even when several URLs or tags name
// it). An object an earlier ban invalidated is not counted: it stays
// stored until a lookup or the sweeper removes it, but is never served
// again, so a second ban or purge over it matches nothing (red team K2).
// A ban is registered first, in constant time, and takes effect on the
// very next request; Matched is then counted by a read-only pass over the
// keys that holds one shard's read lock at a time, so hits go on while it
// runs. Banned objects are removed lazily (on lookup) and by the sweeper.

// requestError is a request this proxy refuses although it is valid
// (DecodeInvalidationRequest checked that): it names a host the proxy
// does not serve. The admin API answers it with 400 and its message.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// conflictError is a repeated invalidation id whose request differs from
// the first one's: the admin API answers 409 and does nothing.
type conflictError struct{ id string }

func (e *conflictError) Error() string {
	return fmt.Sprintf("id %q was received earlier with another request; an id names one invalidation", e.id)
}

// plan is a request in key form.
type plan struct {
	keys     []string // simple, soft: primary keys of the URLs
	urls     []string
	patterns []banPattern // ban
}

// invalidate carries out req, which admin.DecodeInvalidationRequest has
// validated, or returns the first answer when req.ID was already received
// (see idempotency.go). A request for a host this proxy does not serve is
// a *requestError, an id received earlier with another request a
// *conflictError; the only other error is ctx ending while a concurrent
// duplicate of the id is still running.
func (p *Proxy) invalidate(ctx context.Context, req admin.InvalidationRequest) (admin.InvalidationResult, error) {
	pl, err := p.plan(req)
	if err != nil {
		return admin.InvalidationResult{}, &requestError{err: err}
	}
	idKey := req.ID
	if req.DryRun {
		idKey = "dry-run\x00" + req.ID
	}
	body := requestFingerprint(req)
	e, first := p.ids.begin(idKey, body, p.cfg.Now())
	if !first && e.body != body {
		return admin.InvalidationResult{}, &conflictError{id: req.ID}
	}
	if !first {
		select {
		case <-e.done:
			return e.result, nil
		case <-ctx.Done():
			return admin.InvalidationResult{}, fmt.Errorf("waiting for invalidation %s received earlier: %w", req.ID, ctx.Err())
		}
	}
	start := time.Now()
	res := p.execute(req, pl, e.at.UnixNano())
	res.ID = req.ID
	res.DurationMillis = time.Since(start).Milliseconds()
	res.Errors = capErrors(res.Errors) // what is remembered is bounded (idempotency.go)
	if res.Errors == nil {
		res.Errors = []string{}
	}
	p.ids.finish(e, res)
	if !req.DryRun {
		p.metrics.invalidations.WithLabelValues(string(req.Mode)).Inc()
		p.metrics.invalidatedObjects.WithLabelValues(string(req.Mode)).Add(float64(res.Invalidated))
	}
	p.log.Info("Invalidation", "id", req.ID, "mode", req.Mode, "dryRun", req.DryRun,
		"matched", res.Matched, "invalidated", res.Invalidated, "refetched", res.Refetched, "errors", len(res.Errors))
	return res, nil
}

// plan turns req's URLs into keys or ban patterns, refusing hosts this
// proxy does not serve. req was validated at decode (admin.Validate),
// which bounds the wildcard-host bans to admin.MaxWildcardHostPatterns.
func (p *Proxy) plan(req admin.InvalidationRequest) (plan, error) {
	var pl plan
	for i, u := range req.URLs {
		if req.Mode == admin.ModeBan {
			pat, err := compileBan(u)
			if err == nil && !pat.hasWildcardHost() && !p.servesHost(pat.host) {
				err = notServed(pat.host)
			}
			if err != nil {
				return pl, fmt.Errorf("urls[%d]: %w", i, err)
			}
			pl.patterns = append(pl.patterns, pat)
			continue
		}
		host, key, err := urlKey(u)
		if err == nil && !p.servesHost(host) {
			err = notServed(host)
		}
		if err != nil {
			return pl, fmt.Errorf("urls[%d]: %w", i, err)
		}
		pl.keys, pl.urls = append(pl.keys, key), append(pl.urls, u)
	}
	return pl, nil
}

func notServed(host string) error { return fmt.Errorf("host %q is not served by this proxy", host) }

// execute does the work of a first receipt at time at.
func (p *Proxy) execute(req admin.InvalidationRequest, pl plan, at int64) admin.InvalidationResult {
	var res admin.InvalidationResult
	// Objects an earlier ban invalidated stay stored until a lookup or the
	// sweeper removes them; they are no longer this request's to count.
	earlier := p.bans.headSeq()
	if req.Mode == admin.ModeBan {
		if !req.DryRun {
			for _, pat := range pl.patterns {
				p.bans.add(pat, at)
			}
			p.inflight.ban(pl.patterns, at)
		}
		res.Matched = p.countBanned(pl.patterns, at, earlier)
		if !req.DryRun {
			res.Invalidated = res.Matched
		}
		return res
	}
	soft := req.Mode == admin.ModeSoft
	if !req.DryRun {
		// Fetches first, then the store: a fetch that stores meanwhile is
		// either doomed or found below.
		p.inflight.purgeKeys(pl.keys, at, soft)
		p.inflight.purgeTags(req.Tags, at, soft)
	}
	wantRefetch := req.Refetch && !req.DryRun
	targets, refetch := p.purgeTargets(pl, req.Tags, at, earlier, wantRefetch)
	res.Matched = int64(len(targets))
	if req.DryRun {
		return res
	}
	for _, o := range targets {
		if soft {
			o.softPurgedAt.Store(at)
			res.Invalidated++
		} else if p.store.remove(o) {
			res.Invalidated++
		}
	}
	if wantRefetch {
		res.Refetched, res.Errors = p.refetchAll(refetch, soft)
	}
	return res
}

// purgeTargets returns the objects stored before at that a purge of pl's
// keys and of tags matches, each once, leaving out what a ban up to
// sequence number earlier already invalidated, and, when wantRefetch, what
// to refetch: each key, and the key of each object a tag matched.
//
// What a purge allocates per object is what a collection running
// beside it makes it pay for (mark assists), the more so under a low
// GOGC (gctune.go): a tag purge of 10,000 objects took seconds with
// --gc-headroom when it built a refetch list and a set of every
// object it matched. Now it appends each target once; the set is kept
// only when two names could reach one object, the refetch list only
// when a refetch was asked for.
func (p *Proxy) purgeTargets(pl plan, tags []string, at int64, earlier uint64, wantRefetch bool) ([]*object, []refetchTarget) {
	var targets []*object
	var seen map[*object]struct{}
	if len(pl.keys)+len(tags) > 1 {
		seen = make(map[*object]struct{})
	}
	var refetch []refetchTarget
	var refetchIdx map[string]int
	if wantRefetch {
		refetchIdx = make(map[string]int)
	}
	addTarget := func(o *object) bool {
		if o.storedAt >= at || p.bans.bannedUpTo(o, earlier) {
			return false
		}
		if seen != nil {
			if _, dup := seen[o]; dup {
				return true
			}
			seen[o] = struct{}{}
		}
		targets = append(targets, o)
		return true
	}
	for i, key := range pl.keys {
		variants := p.store.variants(key)
		for _, o := range variants {
			addTarget(o)
		}
		if _, dup := refetchIdx[key]; wantRefetch && !dup {
			refetchIdx[key] = len(refetch)
			refetch = append(refetch, refetchTarget{key: key, url: pl.urls[i], like: first(variants)})
		}
	}
	for _, tag := range tags {
		tagged := p.store.tagged(tag)
		if targets == nil && seen == nil {
			targets = tagged[:0] // the one tag: its list filtered in place
		}
		for _, o := range tagged {
			if !addTarget(o) || !wantRefetch {
				continue
			}
			if _, dup := refetchIdx[o.key]; !dup {
				refetchIdx[o.key] = len(refetch)
				refetch = append(refetch, refetchTarget{key: o.key, url: "http://" + o.key, like: o})
			}
		}
	}
	return targets, refetch
}

// first returns the newest of a key's variants, or nil.
func first(variants []*object) *object {
	if len(variants) == 0 {
		return nil
	}
	return variants[0]
}

// countBanned counts the objects stored before at that any pattern matches,
// one shard at a time under its read lock. A pattern with a literal host
// visits only the keys under its literal prefix; the patterns with a
// wildcard host share one pass over every key. The cost is therefore the
// keys under the literal prefixes plus, when any host has a wildcard, one
// pass over the keys checking each against at most
// admin.MaxWildcardHostPatterns patterns. A key several patterns match counts
// once, and an object a ban up to sequence number earlier already
// invalidated not at all.
func (p *Proxy) countBanned(patterns []banPattern, at int64, earlier uint64) int64 {
	var n int64
	count := func(head *object) {
		for o := head; o != nil; o = o.nextVariant {
			if o.storedAt < at && !p.bans.bannedUpTo(o, earlier) {
				n++
			}
		}
	}
	byHost := make(map[string][]banPattern) // literal-host patterns, in order
	var wild []banPattern
	for _, pat := range patterns {
		if pat.hasWildcardHost() {
			wild = append(wild, pat)
		} else {
			byHost[pat.host] = append(byHost[pat.host], pat)
		}
	}
	for _, pats := range byHost {
		for j := range pats {
			pat, earlier := &pats[j], pats[:j]
			for i := range p.store.shards {
				p.store.scanPrefix(i, pat.prefix, func(key string, head *object) {
					if pat.match(key) && !anyMatch(earlier, key) {
						count(head)
					}
				})
			}
		}
	}
	if len(wild) == 0 {
		return n
	}
	for i := range p.store.shards {
		p.store.scanPrefix(i, "", func(key string, head *object) {
			if anyMatch(wild, key) && !anyMatch(byHost[keyHost(key)], key) {
				count(head)
			}
		})
	}
	return n
}

// anyMatch reports whether one of patterns matches key.
func anyMatch(patterns []banPattern, key string) bool {
	for i := range patterns {
		if patterns[i].match(key) {
			return true
		}
	}
	return false
}
