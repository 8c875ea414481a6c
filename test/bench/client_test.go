package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestFill(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Host+r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/close/7" {
			w.Header().Set("Connection", "close") // the client must reconnect
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	if err := Fill(context.Background(), srv.URL, 5, 105, 4, func(i int) string { return "/close/" + strconv.Itoa(i) }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 100 {
		t.Errorf("%d paths requested, want 100", len(seen))
	}
	for i := 5; i < 105; i++ {
		if n := seen[Host+"/close/"+strconv.Itoa(i)]; n != 1 {
			t.Errorf("/close/%d requested %d times with Host %s", i, n, Host)
		}
	}
}

func TestFillFailsOnErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/3" {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	err := Fill(context.Background(), srv.URL, 0, 10, 2, func(i int) string { return "/" + strconv.Itoa(i) })
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("Fill error = %v, want the 502", err)
	}
}
