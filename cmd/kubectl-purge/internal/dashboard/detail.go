package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// event is one Kubernetes Event about a Purge, as its page lists it.
type event struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int32     `json:"count"`
	Time    time.Time `json:"time"`
}

// eventOf reads an Event written through either events API (the
// operator's recorder writes events.k8s.io/v1, which fills eventTime and
// series rather than the core timestamps).
func eventOf(e *corev1.Event) event {
	ev := event{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: max(e.Count, 1)}
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time, e.CreationTimestamp.Time} {
		if !t.IsZero() {
			ev.Time = t
			break
		}
	}
	if e.Series != nil {
		ev.Count = max(e.Series.Count, ev.Count)
		if !e.Series.LastObservedTime.IsZero() {
			ev.Time = e.Series.LastObservedTime.Time
		}
	}
	return ev
}

// serveDetailStream streams one Purge and its Events: a "purge" event with
// the object whenever it changes, "missing" while it does not exist,
// "events" with the whole list of its Events whenever one changes, and
// "eventsFailure" if the user may not read Events (the Purge still
// streams). A refusal to read the Purge ends the stream with "failure".
func (s *server) serveDetailStream(w http.ResponseWriter, r *http.Request) {
	st, ok := startStream(w)
	if !ok {
		return
	}
	ns, name := r.PathValue(namespaceParam), r.PathValue("name")
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Both watches hand their messages to this goroutine, the only writer.
	msgs := make(chan func() error)
	post := func(f func() error) error {
		select {
		case msgs <- f:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	failed := make(chan error, 1)

	purgeOpts := []client.ListOption{client.InNamespace(ns), client.MatchingFields{"metadata.name": name}}
	go func() {
		err := listAndWatch(ctx, s.opts.Client, &cachev1alpha1.PurgeList{}, purgeOpts, func(wd watched) error {
			switch {
			case wd.Reset && len(wd.Objects) == 0:
				return post(func() error { return st.send("missing", purgeKey{Namespace: ns, Name: name}) })
			case wd.Reset:
				d := s.detailOf(wd.Objects[0].(*cachev1alpha1.Purge))
				return post(func() error { return st.send("purge", d) })
			case wd.Event == watch.Deleted:
				return post(func() error { return st.send("missing", purgeKey{Namespace: ns, Name: name}) })
			}
			d := s.detailOf(wd.Object.(*cachev1alpha1.Purge))
			return post(func() error { return st.send("purge", d) })
		})
		if ctx.Err() == nil {
			failed <- err
		}
	}()

	eventOpts := []client.ListOption{client.InNamespace(ns), client.MatchingFields{"involvedObject.name": name, "involvedObject.kind": "Purge"}}
	go func() {
		seen := map[types.UID]event{}
		err := listAndWatch(ctx, s.opts.Client, &corev1.EventList{}, eventOpts, func(wd watched) error {
			if wd.Reset {
				clear(seen)
				for _, o := range wd.Objects {
					seen[o.GetUID()] = eventOf(o.(*corev1.Event))
				}
			} else if wd.Event == watch.Deleted {
				delete(seen, wd.Object.GetUID())
			} else {
				seen[wd.Object.GetUID()] = eventOf(wd.Object.(*corev1.Event))
			}
			list := make([]event, 0, len(seen))
			for _, e := range seen {
				list = append(list, e)
			}
			slices.SortFunc(list, func(a, b event) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
			return post(func() error { return st.send("events", list) })
		})
		if err != nil && ctx.Err() == nil {
			_, body := errorBody(err)
			_ = post(func() error { return st.send("eventsFailure", body) })
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return
		case err := <-failed:
			if err != nil {
				st.fail(err)
			}
			return
		case f := <-msgs:
			if f() != nil {
				return // the page went away
			}
		}
	}
}
