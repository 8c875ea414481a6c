package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The Cloudflare dialect: Cloudflare's purge call, as its SDKs, Drupal's
// cloudflare_purge, FOSHttpCache and CI actions send it, with the zone ID
// replaced by "<namespace>.<name>" of a CacheProxy:
//
//	POST /client/v4/zones/{id}/purge_cache
//	{"files": ["https://www.example.com/a.js", {"url": "https://..."}]}
//	{"tags": ["product-42"]}
//	{"hosts": ["www.example.com"]}           each host banned whole
//	{"prefixes": ["www.example.com/foo"]}    a ban of https://www.example.com/foo
//	{"purge_everything": true}
//
// Exactly one of them, at most 100 items. The token comes in
// Authorization: Bearer. Answers are Cloudflare's envelope:
// {"success":true,"errors":[],"messages":[],"result":{"id":"<purge name>"}},
// and for errors success false with errors [{code, message}], the code
// being the HTTP status.

// cloudflareMaxItems is the most items Cloudflare accepts in one purge.
const cloudflareMaxItems = 100

type cloudflareRequest struct {
	Files           []json.RawMessage `json:"files"`
	Tags            []string          `json:"tags"`
	Hosts           []string          `json:"hosts"`
	Prefixes        []string          `json:"prefixes"`
	PurgeEverything bool              `json:"purge_everything"`
}

type cloudflareEnvelope struct {
	Success  bool                `json:"success"`
	Errors   []cloudflareMessage `json:"errors"`
	Messages []cloudflareMessage `json:"messages"`
	Result   any                 `json:"result"`
}

type cloudflareMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type cloudflareResult struct {
	ID     string   `json:"id"`
	Purges []string `json:"purges"`
	// Complete and Invalidated are set when the request waited.
	Complete    *bool  `json:"complete,omitempty"`
	Invalidated *int64 `json:"invalidated,omitempty"`
}

func (g *Gateway) serveCloudflare(w http.ResponseWriter, r *http.Request) {
	rec, prob := g.cloudflare(w, r)
	if refused(w, rec, prob, writeCloudflareProblem) {
		return
	}
	res := cloudflareResult{ID: rec.purges[0], Purges: rec.purges}
	if rec.waited {
		res.Complete, res.Invalidated = &rec.outcome.complete, &rec.outcome.invalidated
	}
	writeJSON(w, http.StatusOK, cloudflareEnvelope{Success: true, Errors: []cloudflareMessage{}, Messages: []cloudflareMessage{}, Result: res}, rec.purges)
}

func (g *Gateway) cloudflare(w http.ResponseWriter, r *http.Request) (*receipt, *problem) {
	id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.EscapedPath(), cloudflarePrefix), "/purge_cache")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, newProblem(http.StatusNotFound, fmt.Sprintf("no Cloudflare purge call at %s", r.URL.Path),
			"use POST /client/v4/zones/<namespace>.<name>/purge_cache")
	}
	if r.Method != http.MethodPost {
		return nil, &problem{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("%s is not allowed here", r.Method),
			detail: "Cloudflare purge calls are POSTs", allow: []string{http.MethodPost}}
	}
	if u, err := url.PathUnescape(id); err == nil {
		id = u
	}
	wait, prob := g.parseWait(firstNonEmpty(r.URL.Query().Get("wait"), r.Header.Get(headerPurgeWait)))
	if prob != nil {
		return nil, prob
	}
	body, prob := readBody(w, r)
	if prob != nil {
		return nil, prob
	}
	var req cloudflareRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("the body is not a JSON purge request such as {\"files\":[\"https://www.example.com/a.js\"]}: %v", err)
	}
	translate, prob := req.translate()
	if prob != nil {
		return nil, prob
	}
	return g.run(r, order{
		source:    cachev1alpha1.PurgeSourceCloudflare,
		line:      describeRequest(cachev1alpha1.PurgeSourceCloudflare, r) + " " + strings.Join(strings.Fields(string(body)), " "),
		addr:      address{id: id},
		wait:      wait,
		translate: translate,
	})
}

// translate checks that exactly one kind of item is given, within
// Cloudflare's bound, and says what each becomes.
func (req *cloudflareRequest) translate() (func(*cachev1alpha1.CacheProxy) (work, *problem), *problem) {
	kinds, items := 0, 0
	for _, n := range []int{len(req.Files), len(req.Tags), len(req.Hosts), len(req.Prefixes)} {
		if n > 0 {
			kinds++
			items += n
		}
	}
	if req.PurgeEverything {
		kinds++
	}
	switch {
	case kinds == 0:
		return nil, badRequest("nothing to purge: give one of files, tags, hosts, prefixes or purge_everything")
	case kinds > 1:
		return nil, badRequest("give only one of files, tags, hosts, prefixes or purge_everything in one request")
	case items > cloudflareMaxItems:
		return nil, badRequest("%d items: Cloudflare accepts at most %d in one purge", items, cloudflareMaxItems)
	}
	switch {
	case req.PurgeEverything:
		return everything, nil
	case len(req.Files) > 0:
		urls := make([]string, len(req.Files))
		for i, f := range req.Files {
			u, err := fileURL(f)
			if err != nil {
				return nil, badRequest("files[%d]: %v", i, err)
			}
			urls[i] = u
		}
		return fixed(work{mode: cachev1alpha1.PurgeModeSimple, urls: urls}), nil
	case len(req.Tags) > 0:
		return fixed(work{mode: cachev1alpha1.PurgeModeSimple, tags: req.Tags}), nil
	case len(req.Hosts) > 0:
		hosts := make([]string, len(req.Hosts))
		for i, h := range req.Hosts {
			hosts[i] = strings.ToLower(h)
		}
		return fixed(banHosts(hosts)), nil
	}
	w := work{mode: cachev1alpha1.PurgeModeBan}
	for _, p := range req.Prefixes {
		if i := strings.Index(p, "://"); i >= 0 {
			p = p[i+len("://"):]
		}
		if i := strings.Index(p, "/"); i >= 0 {
			p = p[:i] + banPath(p[i:])
		}
		w.urls = append(w.urls, "https://"+p)
	}
	return fixed(w), nil
}

// fixed is the translation of a request whose work does not depend on its
// CacheProxy.
func fixed(w work) func(*cachev1alpha1.CacheProxy) (work, *problem) {
	return func(*cachev1alpha1.CacheProxy) (work, *problem) { return w, nil }
}

// fileURL reads one item of files: a URL string, or an object whose url
// is one (its headers, such as CF-IPCountry, pick a variant; every variant
// of a URL is purged here).
func fileURL(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var o struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.URL == "" {
		return "", fmt.Errorf("want a URL string or an object with a url, got %s", raw)
	}
	return o.URL, nil
}

// writeCloudflareProblem answers in Cloudflare's envelope.
func writeCloudflareProblem(w http.ResponseWriter, p *problem) {
	p.prepare(w)
	msg := p.msg
	if p.detail != "" {
		msg += ": " + p.detail
	}
	writeJSON(w, p.status, cloudflareEnvelope{
		Errors:   []cloudflareMessage{{Code: p.status, Message: msg}},
		Messages: []cloudflareMessage{},
	}, nil)
}
