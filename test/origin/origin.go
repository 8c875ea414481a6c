package origin

import (
	"net/http"
	"sync"
	"time"
)

// Options configures New.
type Options struct {
	// Now is the clock behind Last-Modified and the rendered times.
	// Unset: time.Now.
	Now func() time.Time

	// Release names the release of the site this origin serves, as a
	// Deployment rolls out a new one (demo-origin --release): every page
	// shows it, the X-Origin-Release header carries it, and it is part of
	// each ETag, so a cache's copy of the previous release never
	// revalidates as current. Unset: no release is shown.
	Release string
}

// Origin is the demo origin's http.Handler. It is safe for concurrent use.
type Origin struct {
	now     func() time.Time
	release string
	mux     *http.ServeMux

	mu sync.Mutex // guards everything below
	// failing makes every page answer 503, for stale-if-error demos.
	failing bool
	// pages holds the render state of each URL, keyed by path?query.
	pages map[string]*page
	// requests counts every request by URL, whatever the answer.
	requests map[string]int
}

// page is the render state of one URL.
type page struct {
	version    int
	renderedAt time.Time
	// edited is set when the content changed since the last render: the
	// old validators no longer match.
	edited bool
}

// New returns a demo origin with every counter at zero.
func New(opts Options) *Origin {
	o := &Origin{
		now:      opts.Now,
		release:  opts.Release,
		mux:      http.NewServeMux(),
		pages:    map[string]*page{},
		requests: map[string]int{},
	}
	if o.now == nil {
		o.now = time.Now
	}
	o.routes()
	return o
}

func (o *Origin) routes() {
	o.mux.HandleFunc("GET /{$}", o.serve(homePage))
	o.mux.HandleFunc("GET /products/{id}", o.serve(productPage))
	o.mux.HandleFunc("GET /img/{file}", o.serve(image))
	o.mux.HandleFunc("GET /api/products/{id}", o.serve(productJSON))
	o.mux.HandleFunc("GET /static/app.js", o.serve(appScript))
	o.mux.HandleFunc("GET /api/prices.json", o.serve(priceList))
	o.mux.HandleFunc("POST /_origin/fail", o.setFailing(true))
	o.mux.HandleFunc("POST /_origin/recover", o.setFailing(false))
	o.mux.HandleFunc("POST /_origin/edit", o.edit)
	o.mux.HandleFunc("GET /_origin/stats", o.stats)
	o.mux.HandleFunc("GET /_origin/healthz", healthz)
}

// ServeHTTP counts the request and routes it.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests[urlKey(r)]++
	o.mu.Unlock()
	o.mux.ServeHTTP(w, r)
}

// urlKey names a URL for versions and stats: its path and query.
func urlKey(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return r.URL.Path
	}
	return r.URL.Path + "?" + r.URL.RawQuery
}
