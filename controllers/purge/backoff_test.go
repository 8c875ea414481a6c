package purge

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(int32(i + 1)); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{}).Delay(1); got != time.Second {
		t.Errorf("zero Backoff first delay = %v, want 1s", got)
	}
	if got := (Backoff{}).Delay(1000); got != 30*time.Second {
		t.Errorf("zero Backoff is capped at %v, want 30s", got)
	}
	p := cachev1alpha1.PodPurgeStatus{}
	if !nextAttempt(&p, b).IsZero() {
		t.Error("a pod never called is due at once")
	}
	p.Attempts, p.LastAttemptTime = 3, &metav1.Time{Time: t0}
	if got := nextAttempt(&p, b); !got.Equal(t0.Add(400 * time.Millisecond)) {
		t.Errorf("next attempt %v, want %v", got, t0.Add(400*time.Millisecond))
	}
}
