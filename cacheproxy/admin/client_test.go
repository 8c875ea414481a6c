package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientInvalidate(t *testing.T) {
	var got InvalidationRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != InvalidationsPath || r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad call "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		_ = json.NewEncoder(w).Encode(InvalidationResult{ID: got.ID, Matched: 3, Invalidated: 2, Refetched: 1, Errors: []string{"x"}, DurationMillis: 7})
	}))
	defer srv.Close()
	c := &Client{Token: "s3cret"}
	req := InvalidationRequest{ID: "u/1", Mode: ModeSoft, URLs: []string{"https://h/a"}, Refetch: true}
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		res, err := c.Invalidate(context.Background(), base, req)
		if err != nil {
			t.Fatalf("Invalidate(%s): %v", base, err)
		}
		if res.ID != "u/1" || res.Matched != 3 || res.Invalidated != 2 || res.Refetched != 1 || len(res.Errors) != 1 || res.DurationMillis != 7 {
			t.Fatalf("result %+v", res)
		}
		if got.ID != req.ID || got.Mode != req.Mode || !got.Refetch || len(got.URLs) != 1 {
			t.Fatalf("server received %+v", got)
		}
	}
}

func TestClientWireFormat(t *testing.T) {
	data, _ := json.Marshal(InvalidationRequest{ID: "a", Mode: ModeSimple, URLs: []string{"https://h/"}})
	if string(data) != `{"id":"a","mode":"simple","urls":["https://h/"]}` {
		t.Fatalf("request encodes as %s", data)
	}
	data, _ = json.Marshal(InvalidationResult{ID: "a", Errors: []string{}})
	if string(data) != `{"id":"a","matched":0,"invalidated":0,"refetched":0,"errors":[],"durationMillis":0}` {
		t.Fatalf("result encodes as %s", data)
	}
}

func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "json":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(ErrorResponse{Error: "mode: unknown mode"})
		case "text":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, strings.Repeat("upstream sad ", 100))
		case "garbage":
			_, _ = io.WriteString(w, "{not json")
		}
	}))
	defer srv.Close()
	c := &Client{Token: "t"}
	var se *StatusError
	for _, tc := range []struct {
		cse    string
		status int
		msg    string
	}{
		{"json", 400, "mode: unknown mode"},
		{"text", 502, "upstream sad"},
	} {
		hc := &http.Client{Transport: rewriteQuery{tc.cse}}
		_, err := (&Client{Token: "t", HTTPClient: hc}).Stats(context.Background(), srv.URL)
		if !errors.As(err, &se) || se.StatusCode != tc.status || !strings.Contains(se.Message, tc.msg) || len(se.Message) > 200 {
			t.Fatalf("case %s: %v, want StatusError %d with %q", tc.cse, err, tc.status, tc.msg)
		}
		if !strings.Contains(se.Error(), http.StatusText(tc.status)) {
			t.Fatalf("Error() = %q", se.Error())
		}
	}
	hc := &http.Client{Transport: rewriteQuery{"garbage"}}
	if _, err := (&Client{Token: "t", HTTPClient: hc}).Stats(context.Background(), srv.URL); err == nil || errors.As(err, &se) {
		t.Fatalf("garbage answer: %v, want a decoding error", err)
	}
	srv.Close()
	if _, err := c.Stats(context.Background(), srv.URL); err == nil || errors.As(err, &se) {
		t.Fatalf("closed server: %v, want a transport error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Invalidate(ctx, "http://127.0.0.1:1", InvalidationRequest{ID: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// rewriteQuery adds ?case=<c> to every request.
type rewriteQuery struct{ c string }

func (r rewriteQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.RawQuery = "case=" + r.c
	return http.DefaultTransport.RoundTrip(req)
}
