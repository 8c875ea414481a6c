package dashboard

import (
	"net/http"

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
	opts := []client.ListOption{client.InNamespace(r.URL.Query().Get(namespaceParam))}
	err := listAndWatch(r.Context(), s.opts.Client, &cachev1alpha1.PurgeList{}, opts, func(wd watched) error {
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
