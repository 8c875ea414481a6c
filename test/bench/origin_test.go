package bench

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestOrigin(t *testing.T) {
	o := NewOrigin(0)
	tests := []struct {
		path, keys string
		size       int
	}{
		{"/1k/hot/3", "all 1k k0", Body1K},
		{"/100k/hot/3", "all 100k k0", Body100K},
		{"/1m/hot/3", "all 1m k0", Body1M},
		{"/small/123456", "all small k12", SmallBody},
		{"/fleet/g7/o712", "all 1k g7", Body1K},
		{"/slow/hot", "all 1k", Body1K},
		{"/whatever", "all 1k", Body1K},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		o.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if w.Code != http.StatusOK || w.Body.Len() != tt.size {
			t.Errorf("%s: %d with %d bytes, want 200 with %d", tt.path, w.Code, w.Body.Len(), tt.size)
		}
		h := w.Header()
		if h.Get("Surrogate-Key") != tt.keys || h.Get("Cache-Control") != "public, max-age=86400" || h.Get("Etag") == "" {
			t.Errorf("%s: headers %v", tt.path, h)
		}
	}
	if o.Requests() != int64(len(tests)) || o.PathRequests("/slow/hot") != 1 || o.PathRequests("/1k/hot/3") != 0 {
		t.Errorf("counts: %d requests, /slow/hot %d", o.Requests(), o.PathRequests("/slow/hot"))
	}

	// A revalidation gets 304.
	r := httptest.NewRequest(http.MethodGet, "/1k/x", nil)
	r.Header.Set("If-None-Match", `"1k-v1"`)
	w := httptest.NewRecorder()
	o.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("conditional request: %d with %d bytes, want 304", w.Code, w.Body.Len())
	}

	// The counter endpoint is not counted.
	w = httptest.NewRecorder()
	o.ServeHTTP(w, httptest.NewRequest(http.MethodGet, OriginStatsPath, nil))
	var stats struct {
		Requests int64            `json:"requests"`
		Paths    map[string]int64 `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Requests != int64(len(tests))+1 || stats.Paths["/slow/hot"] != 1 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestOriginSlowPathWaits(t *testing.T) {
	o := NewOrigin(50 * time.Millisecond)
	start := time.Now()
	w := httptest.NewRecorder()
	o.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/slow/x", nil))
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("/slow/ answered after %s, want at least 50ms", took)
	}
}
