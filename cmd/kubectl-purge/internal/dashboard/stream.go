package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// stream writes server-sent events.
type stream struct {
	w http.ResponseWriter
	f http.Flusher
}

func startStream(w http.ResponseWriter) (*stream, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &stream{w: w, f: f}, true
}

// send writes one event named event with v as JSON data.
func (s *stream) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a %s event: %w", event, err)
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// fail sends err as an "failure" event (the page shows it in its alert
// region and stops listening).
func (s *stream) fail(err error) {
	_, body := errorBody(err)
	_ = s.send("failure", body)
}

// watched is what a listAndWatch delivers: a fresh list (Reset, with its
// Objects) or, when it is listed a page at a time, its first page (Reset)
// and each page after it (More); then each change (Event, with its one
// Object).
type watched struct {
	Reset, More bool
	Objects     []client.Object
	// Listed marks the last page of a list.
	Listed bool
	// Remaining is how many objects of the list are still to come, when
	// the API server says (remainingItemCount).
	Remaining *int64
	Event     watch.EventType
	Object    client.Object
}

// paging is how a listAndWatch lists: First objects in its first request
// and Rest in each request after it (limit and continue), so the first of
// thousands come at once. Zero lists everything in one request.
type paging struct {
	First, Rest int64
}

// listAndWatch lists list's objects, delivers them, then watches from the
// list's resourceVersion and delivers each change. A watch that ends (the
// API server closes watches every few minutes) is opened again from the
// last version it delivered, as client-go's reflectors do, so nothing is
// missed and nothing is delivered twice. A version too old to watch from
// (410 Gone: etcd compacted it, or the watch cache dropped it) is listed
// again: the fresh list (Reset) replaces all that was delivered before. It
// returns when ctx ends, a list fails, or a watch fails otherwise.
func listAndWatch(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, deliver func(watched) error) error {
	return listAndWatchPaged(ctx, c, list, opts, paging{}, deliver)
}

// listAndWatchPaged is listAndWatch listing a page at a time.
func listAndWatchPaged(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, pg paging, deliver func(watched) error) error {
	version := ""
	for ctx.Err() == nil {
		var err error
		if version == "" {
			version, err = listPages(ctx, c, list, opts, pg, deliver)
			if expired(err) {
				continue // the list's version was compacted between two pages: list afresh
			}
			if err != nil {
				return err
			}
		}
		if version, err = watchFrom(ctx, c, list, opts, version, deliver); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// expired says that a version is too old to list or watch from: it must
// be listed afresh. The API server says so with 410 Gone, its reason
// Expired (or Gone from older servers), in a watch's error event or as the
// answer to the request.
func expired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// listPages lists and delivers list's objects as pg says, and returns the
// list's resourceVersion (every page is of the same version). Each page is
// decoded into a list of its own: what was delivered is never overwritten.
func listPages(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, pg paging, deliver func(watched) error) (string, error) {
	limit, next := pg.First, ""
	for first := true; ; first = false {
		page := list.DeepCopyObject().(client.ObjectList)
		pageOpts := append(append([]client.ListOption{}, opts...), client.Limit(limit), client.Continue(next))
		if err := c.List(ctx, page, pageOpts...); err != nil {
			return "", err
		}
		items, err := meta.ExtractList(page)
		if err != nil {
			return "", fmt.Errorf("reading a list: %w", err)
		}
		objs := make([]client.Object, 0, len(items))
		for _, it := range items {
			objs = append(objs, it.(client.Object))
		}
		next = page.GetContinue()
		if err := deliver(watched{Reset: first, More: !first, Objects: objs, Listed: next == "", Remaining: page.GetRemainingItemCount()}); err != nil {
			return "", err
		}
		if next == "" {
			return page.GetResourceVersion(), nil
		}
		limit = pg.Rest
	}
}

// watchFrom watches list's objects from version and delivers each change
// until the watch ends. It returns the version to go on from: the last
// one the watch delivered (a bookmark's included), or "" when version is
// too old to watch from and the objects must be listed again.
func watchFrom(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, version string, deliver func(watched) error) (string, error) {
	watchOpts := append(append([]client.ListOption{}, opts...), &client.ListOptions{Raw: &metav1.ListOptions{
		ResourceVersion: version, AllowWatchBookmarks: true,
	}})
	w, err := c.Watch(ctx, list, watchOpts...)
	switch {
	case expired(err):
		return "", nil
	case apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge):
		// The API server's watch cache had not reached the version of
		// the list yet, and waited for it a few seconds: try again.
		return version, nil
	case err != nil:
		return "", err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return version, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return version, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				o := ev.Object.(client.Object)
				if err := deliver(watched{Event: ev.Type, Object: o}); err != nil {
					return "", err
				}
				version = o.GetResourceVersion()
			case watch.Bookmark:
				version = ev.Object.(client.Object).GetResourceVersion()
			case watch.Error:
				if err := apierrors.FromObject(ev.Object); !expired(err) {
					return "", err
				}
				return "", nil
			}
		}
	}
}
