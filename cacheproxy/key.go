package cacheproxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/cacheproxy/cachekey"
)

// Cache keys.
//
// An object's primary key is cachekey.Host of its Host followed by
// cachekey.PathQuery of its path and query: "www.example.com/img/a.png?v=2"
// (package cachekey says what both normalise, and why).
//
// The origin is asked for the key's path and query (Proxy.rewrite), so a
// key names exactly what the origin was asked for, and every spelling of a
// URL is one object: a purge of the canonical URL removes what any alias
// stored. Requests, purge URLs and ban patterns all go through these
// functions.

// The schemes the proxy serves and accepts in URLs. Neither is part of a
// key: both name the same object.
const (
	schemeHTTP  = "http"
	schemeHTTPS = "https"
)

// requestKey returns the normalised host and primary key of a client request.
func requestKey(r *http.Request) (host, key string) {
	host = cachekey.Host(r.Host)
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		// Absolute-form ("GET http://host/p HTTP/1.1"), or a request built
		// in-process: take the parsed form.
		uri = r.URL.RequestURI()
	}
	return host, host + cachekey.PathQuery(uri)
}

// targetPathQuery is the key form of r's path and query: what the origin
// is asked for.
func targetPathQuery(r *http.Request) string {
	host, key := requestKey(r)
	return key[len(host):]
}

// setTarget points u at the key form pq of a path and query, so the origin
// is asked for exactly what the key names.
func setTarget(u *url.URL, pq string) {
	path, query, _ := strings.Cut(pq, "?")
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return // not from a parsed request: leave it as it was
	}
	u.Path, u.RawPath, u.RawQuery, u.ForceQuery = unescaped, path, query, false
}

// urlKey parses a purge URL (admin.ParseURL, the grammar of ban patterns
// too, which compileBan parses) into key form, normalised as client
// requests are: the normalised host, and the key it names. The scheme is
// no part of either.
// urlKey("HTTPS://WWW.Example.com:443/a%7eb") is "www.example.com",
// "www.example.com/a~b".
func urlKey(raw string) (host, key string, err error) {
	u, err := admin.ParseURL(raw)
	if err != nil {
		return "", "", err
	}
	host = cachekey.Host(u.Authority)
	return host, host + cachekey.PathQuery(u.PathQuery), nil
}

// keyHost returns the host part of a primary key.
func keyHost(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}
