package bench

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// purgeWatch delivers, for each expected Purge name, the first watch event
// in which it is finished (Complete or Failed condition true).
type purgeWatch struct {
	w  watch.Interface
	mu sync.Mutex // guards want and added
	// want maps a Purge name to the channel its finishing event goes to,
	// added to the one its ADDED event's time goes to.
	want  map[string]chan finished
	added map[string]chan time.Time
}

type finished struct {
	at    time.Time
	purge *cachev1alpha1.Purge
}

func newPurgeWatch(ctx context.Context, c client.WithWatch) (*purgeWatch, error) {
	w, err := c.Watch(ctx, &cachev1alpha1.PurgeList{}, client.InNamespace(fleetNamespace))
	if err != nil {
		return nil, err
	}
	pw := &purgeWatch{w: w, want: map[string]chan finished{}, added: map[string]chan time.Time{}}
	go pw.run()
	return pw, nil
}

func (pw *purgeWatch) run() {
	for ev := range pw.w.ResultChan() {
		at := time.Now()
		p, ok := ev.Object.(*cachev1alpha1.Purge)
		if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
			continue
		}
		if ev.Type == watch.Added {
			pw.mu.Lock()
			if ch := pw.added[p.Name]; ch != nil {
				ch <- at
				delete(pw.added, p.Name)
			}
			pw.mu.Unlock()
		}
		if !meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete) &&
			!meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed) {
			continue
		}
		pw.mu.Lock()
		ch := pw.want[p.Name]
		delete(pw.want, p.Name)
		pw.mu.Unlock()
		if ch != nil {
			ch <- finished{at: at, purge: p}
		}
	}
}

func (pw *purgeWatch) expect(name string) (added <-chan time.Time, done <-chan finished) {
	ch := make(chan finished, 1)
	a := make(chan time.Time, 1)
	pw.mu.Lock()
	pw.want[name], pw.added[name] = ch, a
	pw.mu.Unlock()
	return a, ch
}

func (pw *purgeWatch) stop() { pw.w.Stop() }
