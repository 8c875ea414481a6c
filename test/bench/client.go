package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Host is the Host header of every request the benchmark sends, so every
// proxy keys its objects the same way and purge URLs are
// https://www.example.com/<path>.
const Host = "www.example.com"

// quickClient is for readiness polls and control calls.
var quickClient = &http.Client{Timeout: 5 * time.Second, Transport: newTransport(4)}

// newTransport returns a keep-alive transport for conns connections per host.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// newGet builds a GET for url with Host as its Host header (host "" means Host).
func newGet(ctx context.Context, url, host string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = Host
	}
	req.Host = host
	return req, nil
}

// get fetches url (Host header Host), discards the body and returns the
// response headers; a status other than 200 is an error.
func get(ctx context.Context, c *http.Client, url string) (http.Header, error) {
	req, err := newGet(ctx, url, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Header, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Header, nil
}

// Fill requests path(i) for i in [from, to) from base ("http://host:port")
// with workers concurrent keep-alive connections: how the benchmark stores
// objects in a proxy (through its miss path, as clients would).
func Fill(ctx context.Context, base string, from, to, workers int, path func(i int) string) error {
	tr := newTransport(workers)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if _, err := get(ctx, c, base+path(i)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// hammer sends GETs for url from conns goroutines until ctx ends and
// counts the answers: how the origin protection test loads a hot object.
type hammer struct {
	ok, errs atomic.Int64
	done     chan struct{}
}

func startHammer(ctx context.Context, url string, conns int) *hammer {
	h := &hammer{done: make(chan struct{})}
	tr := newTransport(conns)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := get(ctx, c, url); err != nil {
					if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
						h.errs.Add(1)
					}
					continue
				}
				h.ok.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		close(h.done)
	}()
	return h
}
