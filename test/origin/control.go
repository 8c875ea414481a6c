package origin

import (
	"encoding/json"
	"net/http"
)

// Stats is what GET /_origin/stats answers.
type Stats struct {
	// Failing is true between POST /_origin/fail and /_origin/recover.
	Failing bool `json:"failing"`
	// Requests counts every request by URL (path?query), whatever the
	// answer: renders, 304s, 503s and 404s.
	Requests map[string]int `json:"requests"`
	// Versions is the current version of each URL rendered at least once.
	Versions map[string]int `json:"versions"`
}

// Stats returns a snapshot of the counters, for tests running the origin
// in process.
func (o *Origin) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{Failing: o.failing, Requests: map[string]int{}, Versions: map[string]int{}}
	for k, n := range o.requests {
		s.Requests[k] = n
	}
	for k, p := range o.pages {
		s.Versions[k] = p.version
	}
	return s
}

// SetFailing makes the origin answer 503 to every page (true) or serve
// normally again (false), as POST /_origin/fail and /_origin/recover do.
func (o *Origin) SetFailing(failing bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failing = failing
}

func (o *Origin) isFailing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failing
}

// Edit marks a URL's content as changed, as POST /_origin/edit?path= does:
// its old validators stop matching, so its next request renders a new
// version.
func (o *Origin) Edit(url string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.pages[url]; p != nil {
		p.edited = true
	}
}

func (o *Origin) setFailing(failing bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		o.SetFailing(failing)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	}
}

func (o *Origin) edit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	url := r.URL.Query().Get("path")
	if url == "" {
		http.Error(w, "edit needs ?path=/the/url", http.StatusBadRequest)
		return
	}
	o.Edit(url)
	w.WriteHeader(http.StatusNoContent)
}

func (o *Origin) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o.Stats())
}

// healthz answers 200 while the origin serves, failing or not: the
// readiness probe of the demo's origin Deployment, which must not count as
// a render of any page.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
