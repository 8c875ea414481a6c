package cacheproxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/cacheops/purge-operator/cacheproxy"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// A proxy in front of an origin, its admin API on a second server, and a
// purge through the operator's client.
func ExampleNew() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "home")
		_, _ = io.WriteString(w, "hello")
	}))
	defer origin.Close()
	originURL, _ := url.Parse(origin.URL)

	p, err := cacheproxy.New(cacheproxy.Config{
		Origin:     originURL,
		Hosts:      []string{"www.example.com"},
		CacheSize:  64 << 20,
		AdminToken: "s3cret",
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	public := httptest.NewServer(p)
	defer public.Close()
	adminSrv := httptest.NewServer(p.AdminHandler())
	defer adminSrv.Close()

	get := func() {
		req, _ := http.NewRequest(http.MethodGet, public.URL+"/", nil)
		req.Host = "www.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), "; ttl=") // the ttl depends on the wall clock
		fmt.Printf("%s | %s\n", body, status)
	}
	get()
	get()
	client := &admin.Client{Token: "s3cret"}
	res, err := client.Invalidate(context.Background(), adminSrv.URL, admin.InvalidationRequest{
		ID: "purge-1", Mode: admin.ModeSimple, Tags: []string{"home"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("invalidated", res.Invalidated)
	get()
	// Output:
	// hello | cacheproxy; fwd=uri-miss; fwd-status=200; stored
	// hello | cacheproxy; hit
	// invalidated 1
	// hello | cacheproxy; fwd=uri-miss; fwd-status=200; stored
}
