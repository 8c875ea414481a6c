package dashboard

import (
	"net/http"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// historyPaging is how a History stream lists the Purges: 100 first, so
// the first page of the table (50 rows) comes in one small request even
// from a history of thousands, then 1,000 a request.
var historyPaging = paging{First: 100, Rest: 1000}

// purgeKey names a Purge that was deleted.
type purgeKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// historyPage is a page of the list of Purges, as History rows.
type historyPage struct {
	Rows []summary `json:"rows"`
	// Listed marks the last page: the rows are all there.
	Listed bool `json:"listed"`
	// Remaining is how many rows the pages to come hold, when the API
	// server says.
	Remaining *int64 `json:"remaining,omitempty"`
}

// serveHistoryStream streams the Purges of a namespace (every namespace
// the user may list when namespace is empty) as History rows: a "reset"
// event with the first page of the list, a "more" event with each page
// after it, then an "upsert" or "delete" per change, relayed from an API
// server watch. A refusal ends the stream with a "failure" event carrying
// the API server's message.
func (s *server) serveHistoryStream(w http.ResponseWriter, r *http.Request) {
	st, ok := startStream(w)
	if !ok {
		return
	}
	opts := []client.ListOption{client.InNamespace(r.URL.Query().Get(namespaceParam))}
	err := listAndWatchPaged(r.Context(), s.opts.Client, &cachev1alpha1.PurgeList{}, opts, historyPaging, func(wd watched) error {
		if wd.Reset || wd.More {
			page := historyPage{Rows: make([]summary, 0, len(wd.Objects)), Listed: wd.Listed, Remaining: wd.Remaining}
			for _, o := range wd.Objects {
				page.Rows = append(page.Rows, s.summarize(o.(*cachev1alpha1.Purge)))
			}
			if wd.Reset {
				return st.send("reset", page)
			}
			return st.send("more", page)
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
