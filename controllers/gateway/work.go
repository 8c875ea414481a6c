package gateway

import (
	"fmt"
	"net"
	"slices"
	"strings"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// work is what one request asks of one CacheProxy, in the Purge's terms.
type work struct {
	mode cachev1alpha1.PurgeMode
	// urls are URLs, or ban patterns with mode ban.
	urls []string
	tags []string
	// confirmHostRootBan is set by requests that mean to ban whole hosts
	// (purge everything, Cloudflare's hosts): the Purge says so, as the
	// API asks of a host-root ban.
	confirmHostRootBan bool
}

// siteURL is the URL of path on host, as Purges name objects. The scheme
// does not matter to the cache (http and https name the same object).
func siteURL(host, pathAndQuery string) string {
	if !strings.HasPrefix(pathAndQuery, "/") {
		pathAndQuery = "/" + pathAndQuery
	}
	return "https://" + host + pathAndQuery
}

// banPath is a ban pattern's path and query as the cache reads it: a
// client's "/a/../" or "/a//b" is resolved here, as the cache would
// resolve it, because the API refuses a ban pattern spelled with dot or
// empty segments (it could not tell a host-root ban from one). Any other
// spelling is kept as the client sent it.
func banPath(pathAndQuery string) string {
	if !cachekey.Aliased(pathAndQuery) {
		return pathAndQuery
	}
	return cachekey.PatternPathQuery(pathAndQuery)
}

// banHosts bans every one of hosts whole.
func banHosts(hosts []string) work {
	w := work{mode: cachev1alpha1.PurgeModeBan, confirmHostRootBan: true}
	for _, h := range hosts {
		w.urls = append(w.urls, siteURL(h, "/"))
	}
	return w
}

// everything is "purge everything" in every dialect: a ban of each host the
// CacheProxy serves. A CacheProxy without spec.hosts serves any host, so
// there is no list of hosts to ban.
func everything(cp *cachev1alpha1.CacheProxy) (work, *problem) {
	if len(cp.Spec.Hosts) == 0 {
		return work{}, badRequest("CacheProxy %s/%s lists no spec.hosts, so there is no list of hosts to purge everything from: "+
			"list the hosts it serves in spec.hosts, or purge by URL, prefix or tag", cp.Namespace, cp.Name)
	}
	return banHosts(cp.Spec.Hosts), nil
}

// checkHosts refuses URLs and patterns of hosts the CacheProxy does not
// serve: its pods would refuse them, and the Purge would fail.
func checkHosts(cp *cachev1alpha1.CacheProxy, w work) *problem {
	if len(cp.Spec.Hosts) == 0 {
		return nil
	}
	for _, u := range w.urls {
		h := urlHost(u)
		if h != "" && !slices.Contains(cp.Spec.Hosts, h) {
			return badRequest("host %q of %s is not served by CacheProxy %s/%s, which serves %s",
				h, u, cp.Namespace, cp.Name, strings.Join(cp.Spec.Hosts, ", "))
		}
	}
	return nil
}

// urlHost is the lower-case host of an http(s) URL or ban pattern, "" if
// it has none the API would accept (the API server then says why).
func urlHost(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if h, _, err := net.SplitHostPort(rest); err == nil {
		rest = h
	}
	return strings.ToLower(rest)
}

// describe is a short account of w for logs and messages.
func (w work) String() string {
	return fmt.Sprintf("%s: %d URLs, %d tags", w.mode, len(w.urls), len(w.tags))
}
