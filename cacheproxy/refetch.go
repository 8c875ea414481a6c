package cacheproxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Refetch (purge and warm up): after a simple or soft purge the proxy
// requests each purged URL itself and stores the answer, so no client pays
// the miss. The request always goes to the configured origin, never to the
// host a URL names, and only for hosts this proxy serves (Invalidate
// refuses the others), so an invalidation cannot make the proxy call an
// arbitrary server. At most RefetchConcurrency refetches run at once, over
// all invalidations.
//
// A refetch asks for the variant of the first stored variant it replaces
// (its Vary request fields are replayed), or for the plain URL. After a
// soft purge it revalidates the soft-purged copy, so an unchanged object
// costs a 304, and an origin failure leaves the stale copy in place.

// A refetch is forwarded as a client's miss is (X-Forwarded-Proto: http,
// the proxy's own view), whatever the scheme of the purge URL: the key has
// no scheme, so what a refetch stores is served to every client, and it
// must be what a miss would have stored (red team C13).

// refetchTarget is one URL to fetch again.
type refetchTarget struct {
	key  string
	url  string  // as the request named it, for error messages
	like *object // a purged variant whose Vary fields to replay, or nil
}

// refetchAll refetches targets with bounded concurrency and returns how
// many were stored and what went wrong with the others.
func (p *Proxy) refetchAll(targets []refetchTarget, soft bool) (int64, []string) {
	var (
		wg sync.WaitGroup
		// mu guards stored and errs.
		mu     sync.Mutex
		stored int64
		errs   []string
	)
	for _, t := range targets {
		wg.Add(1)
		started := p.goBackground(func() {
			defer wg.Done()
			select {
			case p.refetchSem <- struct{}{}:
			case <-p.bgCtx.Done():
				return
			}
			defer func() { <-p.refetchSem }()
			err := p.refetch(t, soft)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				p.metrics.refetches.WithLabelValues("failed").Inc()
			} else {
				stored++
				p.metrics.refetches.WithLabelValues("stored").Inc()
			}
		})
		if !started {
			wg.Done()
			mu.Lock()
			errs = append(errs, fmt.Sprintf("refetch %s: %v", t.url, errClosed))
			mu.Unlock()
		}
	}
	wg.Wait()
	return stored, errs
}

// refetch fetches one target and stores it.
func (p *Proxy) refetch(t refetchTarget, soft bool) error {
	u, err := url.Parse("http://" + t.key)
	if err != nil {
		return fmt.Errorf("refetch %s: %w", t.url, err)
	}
	r := (&http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Host:       keyHost(t.key),
		Header:     variantHeader(t.like),
		Proto:      protoHTTP11,
		ProtoMajor: 1,
		ProtoMinor: 1,
		Body:       http.NoBody,
	}).WithContext(context.Background())
	var stale *object
	if soft && t.like != nil && t.like.softPurgedAt.Load() != 0 {
		stale = t.like
	}
	res := p.fetchWith(&fill{p: p, key: t.key, fwd: fwdURIMiss, reqHeader: r.Header, stale: stale}, r)
	switch {
	case res.errStatus != 0:
		return fmt.Errorf("refetch %s: %d %s (%s)", t.url, res.errStatus, http.StatusText(res.errStatus), res.cs.detail)
	case res.stored:
		return nil
	case res.share != nil:
		return fmt.Errorf("refetch %s: origin failed (%d), stale copy kept", t.url, res.cs.fwdStatus)
	default:
		why := res.notStoredWhy
		if why == "" {
			why = "incomplete body"
		}
		return fmt.Errorf("refetch %s: origin answered %d, not stored (%s)", t.url, res.cs.fwdStatus, why)
	}
}

// variantHeader rebuilds the Vary request fields of the request that
// fetched o.
func variantHeader(o *object) http.Header {
	h := make(http.Header)
	if o == nil || o.vary() == nil {
		return h
	}
	values := strings.Split(o.variant(), "\x00")
	for i, name := range o.vary() {
		if i < len(values) && values[i] != "\x01" {
			h.Set(name, values[i])
		}
	}
	return h
}
