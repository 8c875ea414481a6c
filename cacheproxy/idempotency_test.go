package cacheproxy

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

func TestIdempotencyBounds(t *testing.T) {
	m := newIdempotency(3, time.Hour, DefaultIdempotencyBytes)
	now := t0
	for _, id := range []string{"a", "b", "c"} {
		e, first := m.begin(id, [32]byte{}, now)
		if !first {
			t.Fatalf("%s: not first", id)
		}
		m.finish(e, admin.InvalidationResult{ID: id})
	}
	if e, first := m.begin("a", [32]byte{}, now.Add(time.Minute)); first || e.at != now {
		t.Fatal("a repeated id must return the first entry and its time T")
	}
	// A fourth id pushes the oldest out (count bound).
	e, _ := m.begin("d", [32]byte{}, now)
	m.finish(e, admin.InvalidationResult{})
	if _, first := m.begin("a", [32]byte{}, now); !first {
		t.Fatal("the oldest id should have been forgotten past the count bound")
	}
	if m.size() > 3 {
		t.Fatalf("%d ids remembered, bound 3", m.size())
	}
	// Ids older than the TTL are forgotten (age bound).
	if _, first := m.begin("d", [32]byte{}, now.Add(2*time.Hour)); !first {
		t.Fatal("an id older than the TTL should have been forgotten")
	}
	if m.size() != 1 {
		t.Fatalf("%d ids remembered after the TTL, want 1", m.size())
	}
}

// roundTripFunc is an in-process origin.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRememberedAnswersBoundedInBytes: purges of 1000 long URLs whose
// refetches all fail keep a bounded answer each, and the remembered ids
// stay within IdempotencyBytes (red team C9: 60 such purges kept 248 MiB
// with an empty cache).
func TestRememberedAnswersBoundedInBytes(t *testing.T) {
	const purges, urls = 10, 1000
	e := newEnv(t, nil, func(c *Config) {
		c.RefetchConcurrency = 64
		c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Cache-Control": {"no-store"}},
				Body: io.NopCloser(strings.NewReader("x")), ContentLength: 1, Request: r}, nil
		})
	})
	pad := strings.Repeat("p", 1900)
	before := heapAlloc()
	var last admin.InvalidationResult
	urlLen := 0
	for k := range purges {
		req := admin.InvalidationRequest{ID: "c9-" + itoa(int64(k)), Mode: admin.ModeSimple, Refetch: true}
		for i := range urls {
			req.URLs = append(req.URLs, "http://www.example.com/"+itoa(int64(k))+"/"+itoa(int64(i))+"?pad="+pad)
		}
		urlLen = len(req.URLs[0])
		res, err := e.proxy.invalidate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	growth := heapAlloc() - before
	charged := e.proxy.ids.charged()
	t.Logf("%d purges of %d failing %d-byte refetches: heap +%.2f MiB, remembered ids charged %.1f KiB (bound %d MiB)",
		purges, urls, urlLen, float64(growth)/(1<<20), float64(charged)/(1<<10), DefaultIdempotencyBytes>>20)
	if len(last.Errors) != maxResultErrors+1 || last.Errors[maxResultErrors] != "… and 980 more errors" || len(last.Errors[0]) > maxErrorLength {
		t.Fatalf("answer errors: %d, last %q, first %d bytes", len(last.Errors), last.Errors[len(last.Errors)-1], len(last.Errors[0]))
	}
	if charged > DefaultIdempotencyBytes || growth > 2<<20 {
		t.Fatalf("remembered ids charged %d bytes, heap grew %d bytes; want within %d and 2 MiB", charged, growth, DefaultIdempotencyBytes)
	}
}

// TestIdempotencyByteBound: the oldest ids are forgotten while the
// remembered answers take more than the byte bound.
func TestIdempotencyByteBound(t *testing.T) {
	const maxBytes = 64 << 10
	m := newIdempotency(1000, time.Hour, maxBytes)
	errs := capErrors(slices.Repeat([]string{strings.Repeat("e", 2000)}, 50))
	for i := range 20 {
		e, first := m.begin("id-"+itoa(int64(i)), [32]byte{}, t0)
		if !first {
			t.Fatalf("id-%d: not first", i)
		}
		m.finish(e, admin.InvalidationResult{Errors: errs})
		if m.charged() > maxBytes {
			t.Fatalf("after id-%d: %d bytes charged, bound %d", i, m.charged(), maxBytes)
		}
	}
	if _, first := m.begin("id-0", [32]byte{}, t0); !first {
		t.Fatal("the oldest id should have been forgotten past the byte bound")
	}
	if _, first := m.begin("id-19", [32]byte{}, t0); first {
		t.Fatal("the newest id was forgotten")
	}
}
