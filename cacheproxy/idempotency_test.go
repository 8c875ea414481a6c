package cacheproxy

import (
	"testing"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

func TestIdempotencyBounds(t *testing.T) {
	m := newIdempotency(3, time.Hour)
	now := t0
	for _, id := range []string{"a", "b", "c"} {
		e, first := m.begin(id, now)
		if !first {
			t.Fatalf("%s: not first", id)
		}
		m.finish(e, admin.InvalidationResult{ID: id})
	}
	if e, first := m.begin("a", now.Add(time.Minute)); first || e.at != now {
		t.Fatal("a repeated id must return the first entry and its time T")
	}
	// A fourth id pushes the oldest out (count bound).
	e, _ := m.begin("d", now)
	m.finish(e, admin.InvalidationResult{})
	if _, first := m.begin("a", now); !first {
		t.Fatal("the oldest id should have been forgotten past the count bound")
	}
	if m.size() > 3 {
		t.Fatalf("%d ids remembered, bound 3", m.size())
	}
	// Ids older than the TTL are forgotten (age bound).
	if _, first := m.begin("d", now.Add(2*time.Hour)); !first {
		t.Fatal("an id older than the TTL should have been forgotten")
	}
	if m.size() != 1 {
		t.Fatalf("%d ids remembered after the TTL, want 1", m.size())
	}
}
