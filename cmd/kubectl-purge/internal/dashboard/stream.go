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
// list's resourceVersion and delivers each change; when the watch ends
// (the API server closes watches every few minutes, or the version is too
// old) it lists again. It returns when ctx ends or a list fails.
func listAndWatch(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, deliver func(watched) error) error {
	return listAndWatchPaged(ctx, c, list, opts, paging{}, deliver)
}

// listAndWatchPaged is listAndWatch listing a page at a time.
func listAndWatchPaged(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, pg paging, deliver func(watched) error) error {
	for {
		version, err := listPages(ctx, c, list, opts, pg, deliver)
		if apierrors.IsResourceExpired(err) {
			continue // the list's version was compacted between two pages: list afresh
		}
		if err != nil {
			return err
		}
		watchOpts := append(append([]client.ListOption{}, opts...), &client.ListOptions{Raw: &metav1.ListOptions{
			ResourceVersion: version, AllowWatchBookmarks: true,
		}})
		w, err := c.Watch(ctx, list, watchOpts...)
		if err != nil {
			return err
		}
		err = relay(ctx, w, deliver)
		w.Stop()
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
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

// relay delivers a watch's changes until it ends.
func relay(ctx context.Context, w watch.Interface, deliver func(watched) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				if err := deliver(watched{Event: ev.Type, Object: ev.Object.(client.Object)}); err != nil {
					return err
				}
			case watch.Error:
				// Most often 410 Gone (the version is too old): list again.
				if status := apierrors.FromObject(ev.Object); !apierrors.IsResourceExpired(status) && !apierrors.IsGone(status) {
					return status
				}
				return nil
			}
		}
	}
}
