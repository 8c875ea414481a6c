package dashboard

import (
	"context"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// purgeKey names a Purge that was deleted.
type purgeKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// serveHistoryStream streams the Purges of a namespace (every namespace
// the user may list when namespace is empty) as History rows: a "reset"
// event with all of them, then an "upsert" or "delete" per change, relayed
// from an API server watch. A refusal ends the stream with a "failure"
// event carrying the API server's message.
func (s *server) serveHistoryStream(w http.ResponseWriter, r *http.Request) {
	st, ok := startStream(w)
	if !ok {
		return
	}
	ns := r.URL.Query().Get(namespaceParam)
	opts := []client.ListOption{client.InNamespace(ns)}
	err := listAndWatchFrom(r.Context(), s.opts.Client, &cachev1alpha1.PurgeList{}, s.early.take(r.Context(), ns), opts, func(wd watched) error {
		if wd.Reset {
			rows := make([]summary, 0, len(wd.Objects))
			for _, o := range wd.Objects {
				rows = append(rows, s.summarize(o.(*cachev1alpha1.Purge)))
			}
			return st.send("reset", rows)
		}
		p := wd.Object.(*cachev1alpha1.Purge)
		if wd.Event == watch.Deleted {
			return st.send("delete", purgeKey{Namespace: p.Namespace, Name: p.Name})
		}
		return st.send("upsert", s.summarize(p))
	})
	if err != nil && r.Context().Err() == nil {
		st.fail(err)
	}
}

// earlyList is the list of the starting namespace's Purges, made while
// the browser opens: the page's first History stream starts from it
// instead of waiting for a list of thousands of Purges. Later streams list
// afresh. The watch that follows it brings every change made since.
type earlyList struct {
	namespace string
	done      chan struct{} // closed once list and err are set
	list      *cachev1alpha1.PurgeList
	err       error
	taken     sync.Once
}

// startEarlyList lists the Purges of namespace in the background.
func startEarlyList(ctx context.Context, c client.Client, namespace string) *earlyList {
	e := &earlyList{namespace: namespace, done: make(chan struct{}), list: &cachev1alpha1.PurgeList{}}
	go func() {
		defer close(e.done)
		e.err = c.List(ctx, e.list, client.InNamespace(namespace))
	}()
	return e
}

// take is the early list, once, for a stream of namespace: it waits for
// the list to end; nil if it failed, or was taken, or is of another
// namespace, or ctx ended first (the stream lists then).
func (e *earlyList) take(ctx context.Context, namespace string) client.ObjectList {
	if e == nil || namespace != e.namespace {
		return nil
	}
	var list client.ObjectList
	e.taken.Do(func() {
		select {
		case <-e.done:
			if e.err == nil {
				list = e.list
			}
		case <-ctx.Done():
		}
	})
	return list
}
