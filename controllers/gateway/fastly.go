package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The Fastly dialect: the purge calls of the Fastly API, as Fastly's API
// clients, Shopware, FOSHttpCache and CI actions send them, with the
// service ID replaced by "<namespace>.<name>" of a CacheProxy:
//
//	POST /service/{id}/purge/{key}       one surrogate key (a tag)
//	POST /service/{id}/purge             keys in Surrogate-Key: k1 k2, or JSON {"surrogate_keys":[...]}
//	POST /service/{id}/purge_all         everything (never soft, as at Fastly)
//	POST /purge/{host}/{path}            one URL (fastly-js purgeSingleUrl, Shopware)
//
// A URL purge names no service: like a Varnish request with the site's
// Host, it goes to the CacheProxy, among those the caller may purge, whose
// spec.hosts lists the URL's host. Its query belongs to the URL, so it
// waits only with X-Purge-Wait. Fastly-Soft-Purge: 1 makes a key or URL
// purge soft. The token comes in Fastly-Key. Answers are Fastly's: {"status":"ok","id":"<purge name>"},
// for a bulk purge {"<key>":"<purge name>",...}, and {"msg","detail"} with
// the status for errors.

// fastlyMaxKeys is the most keys Fastly accepts in one bulk purge.
const fastlyMaxKeys = 256

func (g *Gateway) serveFastly(w http.ResponseWriter, r *http.Request) {
	rec, form, prob := g.fastly(w, r)
	if refused(w, rec, prob, writeFastlyProblem) {
		return
	}
	if form == fastlyBulk {
		answer := map[string]string{}
		for _, t := range rec.work.tags {
			answer[t] = rec.batch.nameOfTag(t)
		}
		writeJSON(w, http.StatusOK, answer, rec.purges)
		return
	}
	answer := map[string]any{"status": "ok", "id": rec.purges[0]}
	if rec.waited {
		answer["complete"] = rec.outcome.complete
		answer["invalidated"] = rec.outcome.invalidated
	}
	writeJSON(w, http.StatusOK, answer, rec.purges)
}

type fastlyForm int

const (
	fastlyKey fastlyForm = iota
	fastlyBulk
	fastlyAll
	fastlyURL
)

func (g *Gateway) fastly(w http.ResponseWriter, r *http.Request) (*receipt, fastlyForm, *problem) {
	if r.Method != http.MethodPost {
		return nil, 0, &problem{status: http.StatusMethodNotAllowed, msg: fmt.Sprintf("%s is not allowed here", r.Method),
			detail: "Fastly purge calls are POSTs", allow: []string{http.MethodPost}}
	}
	if strings.HasPrefix(r.URL.Path, fastlyURLPrefix) {
		rec, prob := g.fastlyURL(r)
		return rec, fastlyURL, prob
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), fastlyPrefix), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, 0, badRequest("path segment %q: %v", s, err)
		}
		segs[i] = u
	}
	var form fastlyForm
	switch {
	case len(segs) == 2 && segs[1] == "purge_all":
		form = fastlyAll
	case len(segs) == 2 && segs[1] == "purge":
		form = fastlyBulk
	case len(segs) == 3 && segs[1] == "purge" && segs[2] != "":
		form = fastlyKey
	default:
		return nil, 0, newProblem(http.StatusNotFound, fmt.Sprintf("no Fastly purge call at %s", r.URL.Path),
			"use POST /service/<namespace>.<name>/purge/<key>, /service/<namespace>.<name>/purge or /service/<namespace>.<name>/purge_all")
	}
	wait, prob := g.parseWait(firstNonEmpty(r.URL.Query().Get("wait"), r.Header.Get(headerPurgeWait)))
	if prob != nil {
		return nil, 0, prob
	}
	mode := fastlyMode(r)
	var keys []string
	switch form {
	case fastlyKey:
		keys = []string{segs[2]}
	case fastlyBulk:
		body, prob := readBody(w, r)
		if prob != nil {
			return nil, 0, prob
		}
		if keys, prob = fastlyBulkKeys(r.Header.Get("Surrogate-Key"), body); prob != nil {
			return nil, 0, prob
		}
	}
	o := order{
		source: cachev1alpha1.PurgeSourceFastly,
		line:   describeRequest(cachev1alpha1.PurgeSourceFastly, r, "Surrogate-Key", headerFastlySoftPurge),
		addr:   address{id: segs[0]},
		wait:   wait,
		translate: func(cp *cachev1alpha1.CacheProxy) (work, *problem) {
			if form == fastlyAll {
				return everything(cp)
			}
			return work{mode: mode, tags: keys}, nil
		},
	}
	rec, prob := g.run(r, o)
	return rec, form, prob
}

// fastlyURL is Fastly's purge of one URL, POST /purge/{host}/{path}, the
// URL given with or without its scheme.
func (g *Gateway) fastlyURL(r *http.Request) (*receipt, *problem) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), fastlyURLPrefix)
	for _, scheme := range []string{"https://", "http://", "https:/", "http:/"} {
		if s, ok := strings.CutPrefix(rest, scheme); ok {
			rest = s
			break
		}
	}
	site, path, _ := strings.Cut(rest, "/")
	site = hostOf(site)
	if site == "" {
		return nil, newProblem(http.StatusNotFound, fmt.Sprintf("no URL to purge at %s", r.URL.Path),
			"use POST /purge/<host>/<path>, such as /purge/www.example.com/products/1")
	}
	path = "/" + path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	wait, prob := g.parseWait(r.Header.Get(headerPurgeWait))
	if prob != nil {
		return nil, prob
	}
	w := work{mode: fastlyMode(r), urls: []string{siteURL(site, path)}}
	return g.run(r, order{
		source:    cachev1alpha1.PurgeSourceFastly,
		line:      describeRequest(cachev1alpha1.PurgeSourceFastly, r, headerFastlySoftPurge),
		addr:      address{host: site, site: true},
		wait:      wait,
		translate: fixed(w),
	})
}

// fastlyMode is soft when Fastly-Soft-Purge is 1, as at Fastly.
func fastlyMode(r *http.Request) cachev1alpha1.PurgeMode {
	if r.Header.Get(headerFastlySoftPurge) == "1" {
		return cachev1alpha1.PurgeModeSoft
	}
	return cachev1alpha1.PurgeModeSimple
}

// headerFastlySoftPurge makes a Fastly purge soft.
const headerFastlySoftPurge = "Fastly-Soft-Purge"

// fastlyBulkKeys reads the keys of a bulk purge: Surrogate-Key's
// space-separated list, and the body's {"surrogate_keys":[...]}.
func fastlyBulkKeys(header string, body []byte) ([]string, *problem) {
	keys := strings.Fields(header)
	if len(bytes.TrimSpace(body)) > 0 {
		var b struct {
			SurrogateKeys []string `json:"surrogate_keys"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, badRequest(`the body is not JSON of the form {"surrogate_keys":["key1","key2"]}: %v`, err)
		}
		keys = append(keys, b.SurrogateKeys...)
	}
	switch {
	case len(keys) == 0:
		return nil, badRequest(`no surrogate keys: send them in a Surrogate-Key header ("k1 k2") or as JSON {"surrogate_keys":["k1","k2"]}`)
	case len(keys) > fastlyMaxKeys:
		return nil, badRequest("%d surrogate keys: Fastly accepts at most %d in one purge", len(keys), fastlyMaxKeys)
	}
	return keys, nil
}

// writeFastlyProblem answers {"msg": ..., "detail": ...} as Fastly does.
func writeFastlyProblem(w http.ResponseWriter, p *problem) {
	p.prepare(w)
	writeJSON(w, p.status, map[string]string{"msg": p.msg, "detail": p.detail}, nil)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
