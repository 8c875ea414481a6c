package gateway

import (
	"net/http"
	"strings"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// The Varnish dialects: what content systems send to a Varnish whose VCL
// handles PURGE, BAN and PURGEKEYS, on any path.
//
//	PURGE /path                       that URL of the request's site (X-Host, else Host);
//	                                  soft with Fastly-Soft-Purge: 1 (a purge at Fastly's edge)
//	PURGE|BAN|PURGEKEYS + tag header  those tags; soft with xkey-softpurge or X-Magento-Purge-Soft
//	BAN + X-Url (+ X-Host)            .* bans the whole host, ^/prefix/ that prefix
//	BAN /path (no X-Url)              a ban of that path prefix (Shopware's BAN / bans the host)
//	PURGE /.* + X-Purge-Method: regex the whole host (WordPress's full flush)
//	X-Magento-Tags-Pattern: .*        everything (Magento's full flush)
//
// Answers are 200 with {"purges":["<name>",...]} and X-Purge-Name.

// varnishTagHeader is a request header that carries tags, and how to read it.
type varnishTagHeader struct {
	name string
	// decode reads one value; all means "everything".
	decode func(string) (tags []string, all bool, err error)
	// soft makes the purge soft.
	soft bool
}

func tagsOnly(f func(string) ([]string, error)) func(string) ([]string, bool, error) {
	return func(v string) ([]string, bool, error) {
		t, err := f(v)
		return t, false, err
	}
}

func plain(f func(string) []string) func(string) ([]string, bool, error) {
	return func(v string) ([]string, bool, error) { return f(v), false, nil }
}

// varnishTagHeaders are the tag headers of the clients in
// shared/research/invalidation-wire-formats.md.
var varnishTagHeaders = []varnishTagHeader{
	{name: "X-Magento-Tags-Pattern", decode: decodeMagento},              // Magento
	{name: "Cache-Tags", decode: plain(splitPipes)},                      // Drupal (Lagoon)
	{name: "Purge-Cache-Tags", decode: plain(splitPipes)},                // Drupal (Thunder)
	{name: "X-Cache-Tags", decode: decodeXCacheTags},                     // FOSHttpCache, TYPO3 nxvarnish, Neos
	{name: "X-Cache-Tags-Pattern", decode: plain(splitPipes)},            // WordPress Proxy Cache Purge, Cache Tags mode
	{name: "ApiPlatform-Ban-Regex", decode: tagsOnly(decodeAPIPlatform)}, // API Platform
	{name: "xkey", decode: plain(splitList)},                             // API Platform xkey, Shopware
	{name: "xkey-purge", decode: plain(splitList)},                       // FOSHttpCache xkey
	{name: "xkey-softpurge", decode: plain(splitList), soft: true},       // FOSHttpCache xkey (its default)
	{name: "Surrogate-Key", decode: plain(splitList)},                    // API Platform Souin
}

// Other request headers of the Varnish dialects.
const (
	headerXHost       = "X-Host"
	headerXURL        = "X-Url"
	headerContentType = "X-Content-Type"
	headerPurgeMethod = "X-Purge-Method"
	headerMagentoSoft = "X-Magento-Purge-Soft"
)

type varnishAnswer struct {
	Purges      []string `json:"purges"`
	Complete    *bool    `json:"complete,omitempty"`
	Invalidated *int64   `json:"invalidated,omitempty"`
}

func (g *Gateway) serveVarnish(w http.ResponseWriter, r *http.Request) {
	rec, prob := g.varnish(r)
	if refused(w, rec, prob, writeVarnishProblem) {
		return
	}
	answer := varnishAnswer{Purges: rec.purges}
	if rec.waited {
		answer.Complete, answer.Invalidated = &rec.outcome.complete, &rec.outcome.invalidated
	}
	writeJSON(w, http.StatusOK, answer, rec.purges)
}

func (g *Gateway) varnish(r *http.Request) (*receipt, *problem) {
	wait, prob := g.parseWait(r.Header.Get(headerPurgeWait))
	if prob != nil {
		return nil, prob
	}
	tags, all, soft, used, prob := varnishTags(r.Header)
	if prob != nil {
		return nil, prob
	}
	if isTruthy(r.Header.Get(headerMagentoSoft)) || r.Header.Get(headerFastlySoftPurge) == "1" {
		soft = true
	}
	mode := cachev1alpha1.PurgeModeSimple
	if soft {
		mode = cachev1alpha1.PurgeModeSoft
	}
	addr := address{host: hostOf(r.Host)}
	path := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	translate := func(cp *cachev1alpha1.CacheProxy) (work, *problem) {
		switch {
		case all:
			return everything(cp)
		case len(tags) > 0:
			return work{mode: mode, tags: tags}, nil
		case used != "":
			return work{}, badRequest("%s lists no tag", used)
		case r.Method == methodPurgeKeys:
			return work{}, badRequest("PURGEKEYS needs the keys in an xkey-purge or xkey-softpurge header")
		}
		hosts, prob := sites(cp, addr, r.Header.Get(headerXHost))
		if prob != nil {
			return work{}, prob
		}
		if r.Method == methodBan {
			return varnishBan(hosts, r)
		}
		if strings.EqualFold(r.Header.Get(headerPurgeMethod), "regex") {
			prefix, err := decodePathPattern(r.URL.Path)
			if err != nil {
				return work{}, badRequest("%s: regex %v", headerPurgeMethod, err)
			}
			return bans(hosts, prefix), nil
		}
		w := work{mode: mode}
		for _, h := range hosts {
			w.urls = append(w.urls, siteURL(h, path))
		}
		return w, nil
	}
	headers := []string{headerXHost, headerXURL, headerPurgeMethod, headerMagentoSoft, headerFastlySoftPurge}
	for _, h := range varnishTagHeaders {
		headers = append(headers, h.name)
	}
	return g.run(r, order{
		source:    cachev1alpha1.PurgeSourceVarnish,
		line:      describeRequest(cachev1alpha1.PurgeSourceVarnish, r, headers...),
		addr:      addr,
		wait:      wait,
		translate: translate,
	})
}

// varnishTags reads every tag header of h. used names the first tag
// header present, so that one listing no tag is refused rather than taken
// for a URL purge.
func varnishTags(h http.Header) (tags []string, all, soft bool, used string, prob *problem) {
	for _, th := range varnishTagHeaders {
		for _, v := range h.Values(th.name) {
			if used == "" {
				used = th.name
			}
			t, a, err := th.decode(v)
			if err != nil {
				return nil, false, false, "", badRequest("%s: %v", th.name, err)
			}
			tags, all, soft = append(tags, t...), all || a, soft || th.soft
		}
	}
	return tags, all, soft, used, nil
}

// varnishBan is a BAN without tags: FOSHttpCache's X-Url pattern, or the
// request's own path as a prefix (Shopware bans a host with BAN /).
func varnishBan(hosts []string, r *http.Request) (work, *problem) {
	if ct := strings.TrimSpace(r.Header.Get(headerContentType)); ct != "" && ct != ".*" {
		return work{}, badRequest("%s: %q: the gateway cannot ban by content type; leave it out or send .*", headerContentType, ct)
	}
	prefix := r.URL.EscapedPath()
	if v := r.Header.Get(headerXURL); v != "" {
		p, err := decodePathPattern(v)
		if err != nil {
			return work{}, badRequest("%s: %v", headerXURL, err)
		}
		prefix = p
	}
	return bans(hosts, prefix), nil
}

// bans is a ban of prefix on each of hosts; a ban of "/" (in any spelling,
// "/a/../" too) empties the hosts, which the request meant.
func bans(hosts []string, prefix string) work {
	prefix = banPath(prefix)
	w := work{mode: cachev1alpha1.PurgeModeBan, confirmHostRootBan: prefix == "/"}
	for _, h := range hosts {
		w.urls = append(w.urls, siteURL(h, prefix))
	}
	return w
}

// sites are the hosts a Varnish request's URL or ban is for: X-Host (a host,
// or FOSHttpCache's pattern of hosts), else the Host header when it is a
// site the CacheProxy serves, else the CacheProxy's only host.
func sites(cp *cachev1alpha1.CacheProxy, a address, xhost string) ([]string, *problem) {
	if xhost != "" {
		hosts, all, err := decodeHosts(xhost)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		if !all {
			return hosts, nil
		}
		if len(cp.Spec.Hosts) == 0 {
			return nil, badRequest("%s: .* means every host, but CacheProxy %s/%s lists no spec.hosts", headerXHost, cp.Namespace, cp.Name)
		}
		return cp.Spec.Hosts, nil
	}
	if _, _, named := a.named(); !named {
		return []string{a.host}, nil
	}
	if len(cp.Spec.Hosts) == 1 {
		return cp.Spec.Hosts, nil
	}
	return nil, badRequest("which site? CacheProxy %s/%s serves %d hosts: send the site's host in %s",
		cp.Namespace, cp.Name, len(cp.Spec.Hosts), headerXHost)
}

// isTruthy reads a flag header: anything but "", "0", "false" and "no".
func isTruthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// writeVarnishProblem answers {"error": ..., "detail": ...}.
func writeVarnishProblem(w http.ResponseWriter, p *problem) {
	p.prepare(w)
	writeJSON(w, p.status, map[string]string{"error": p.msg, "detail": p.detail}, nil)
}
