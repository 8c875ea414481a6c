package origin

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resource is what a route serves: its caching policy, its tags
// and how to render its body for a version.
type resource struct {
	contentType  string
	cacheControl string
	tags         []string
	render       func(r rendering) []byte
}

// rendering is what a render shows: the URL's version, when it was
// rendered, and the origin's release ("" when it has none).
type rendering struct {
	version int
	at      time.Time
	release string
}

// route finds the resource a request names; false means there is none.
type route func(r *http.Request) (resource, bool)

// notFoundCacheControl lets caches remember a 404 briefly, as origins do.
const notFoundCacheControl = "public, max-age=10"

// serve answers a request for a resource: 503 while failing, 304 when the
// request's validator matches the last render, otherwise a new render.
func (o *Origin) serve(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.isFailing() {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "origin is failing (POST /_origin/recover to heal it)", http.StatusServiceUnavailable)
			return
		}
		style, ok := tagStyleOf(r)
		if !ok {
			badTagStyle(w, r)
			return
		}
		res, ok := rt(r)
		if !ok {
			w.Header().Set("Cache-Control", notFoundCacheControl)
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		key := urlKey(r)
		version, renderedAt, notModified := o.renderOrValidate(key, r)

		h := w.Header()
		h.Set("Cache-Control", res.cacheControl)
		style.set(h, res.tags)
		h.Set("ETag", etagFor(key, o.release, version))
		h.Set("Last-Modified", renderedAt.UTC().Format(http.TimeFormat))
		h.Set("X-Origin-Version", strconv.Itoa(version))
		if o.release != "" {
			h.Set("X-Origin-Release", o.release)
		}
		if notModified {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := res.render(rendering{version: version, at: renderedAt, release: o.release})
		h.Set("Content-Type", res.contentType)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// renderOrValidate returns the version to answer with: the last render's
// if the request's validators match it and the content was not edited
// since (notModified), else a new render's.
func (o *Origin) renderOrValidate(key string, r *http.Request) (version int, renderedAt time.Time, notModified bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.pages[key]
	if p != nil && !p.edited && validatorsMatch(r, etagFor(key, o.release, p.version), p.renderedAt) {
		return p.version, p.renderedAt, true
	}
	if p == nil {
		p = &page{}
		o.pages[key] = p
	}
	p.version++
	p.renderedAt = o.now()
	p.edited = false
	return p.version, p.renderedAt, false
}

// validatorsMatch applies If-None-Match (weak comparison, as RFC 9110 says
// for GET) or, without it, If-Modified-Since.
func validatorsMatch(r *http.Request, etag string, lastModified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !lastModified.Truncate(time.Second).After(t)
	}
	return false
}

// etagFor is a strong validator naming the URL, the release and the
// version: a new release's pods count versions from 1 again, and their
// first render must not match the previous release's.
func etagFor(key, release string, version int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	if release != "" {
		_, _ = h.Write([]byte("\x00" + release))
	}
	return fmt.Sprintf(`"%08x-v%d"`, h.Sum32(), version)
}
