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
// Objects), then each change (Event, with its one Object).
type watched struct {
	Reset   bool
	Objects []client.Object
	Event   watch.EventType
	Object  client.Object
}

// listAndWatch lists list's objects, delivers them, then watches from the
// list's resourceVersion and delivers each change; when the watch ends
// (the API server closes watches every few minutes, or the version is too
// old) it lists again. It returns when ctx ends or a list fails.
func listAndWatch(ctx context.Context, c client.WithWatch, list client.ObjectList, opts []client.ListOption, deliver func(watched) error) error {
	return listAndWatchFrom(ctx, c, list, nil, opts, deliver)
}

// listAndWatchFrom is listAndWatch whose first list, when primed is not
// nil, was already made: primed holds it.
func listAndWatchFrom(ctx context.Context, c client.WithWatch, list, primed client.ObjectList, opts []client.ListOption, deliver func(watched) error) error {
	for {
		if primed != nil {
			list, primed = primed, nil
		} else if err := c.List(ctx, list, opts...); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return fmt.Errorf("reading a list: %w", err)
		}
		objs := make([]client.Object, 0, len(items))
		for _, it := range items {
			objs = append(objs, it.(client.Object))
		}
		if err := deliver(watched{Reset: true, Objects: objs}); err != nil {
			return err
		}
		watchOpts := append(append([]client.ListOption{}, opts...), &client.ListOptions{Raw: &metav1.ListOptions{
			ResourceVersion: list.GetResourceVersion(), AllowWatchBookmarks: true,
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
