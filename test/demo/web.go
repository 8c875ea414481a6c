package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// siteHost is the Host the samples' CacheProxy serves and their Purges
// name.
const siteHost = "www.example.com"

// answer is what the demo reads of one response from a cache pod.
type answer struct {
	Status      int
	CacheStatus string // this proxy's Cache-Status member, e.g. "cacheproxy; hit; ttl=59"
	Version     int    // the "version N" the origin rendered into the body; 0 if none
	Release     string // the origin's release (X-Origin-Release); "" if it has none
	Age         string
}

// Outcomes of a request to a cache, as cacheOutcome names them.
const (
	outcomeHit  = "hit"
	outcomeMiss = "miss"
)

// outcome is a short name for the Cache-Status: "hit", "miss",
// "stale (soft-purged)" and so on.
func (a answer) outcome() string { return cacheOutcome(a.CacheStatus) }

// short is "hit v3", for tables.
func (a answer) short() string {
	if a.Status != http.StatusOK {
		return fmt.Sprintf("%s %d", a.outcome(), a.Status)
	}
	return fmt.Sprintf("%s v%d", a.outcome(), a.Version)
}

// releaseShort is "hit, release v1", for the deploy step's tables.
func (a answer) releaseShort() string {
	if a.Status != http.StatusOK {
		return fmt.Sprintf("%s %d", a.outcome(), a.Status)
	}
	return fmt.Sprintf("%s, release %s", a.outcome(), a.Release)
}

// cacheOutcome names a Cache-Status member the way a person says it.
func cacheOutcome(cs string) string {
	params := map[string]string{}
	hit := false
	for part := range strings.SplitSeq(cs, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == outcomeHit {
			hit = true
		}
		params[k] = v
	}
	switch fwd := params["fwd"]; {
	case hit:
		return outcomeHit
	case cs == "":
		return "no Cache-Status"
	case fwd == "uri-miss" || fwd == "vary-miss":
		return outcomeMiss
	case fwd == "stale" && params["fwd-status"] == "304":
		return "revalidated"
	case fwd == "stale" && params["detail"] != "":
		return "stale (" + params["detail"] + ")"
	case fwd != "":
		return fwd
	default:
		return cs
	}
}

// bodyVersion finds the origin's "version N" in an HTML or SVG body, or
// "version":N in JSON.
var bodyVersion = regexp.MustCompile(`"?version"?[: ]\s*(\d+)`)

// web makes the demo's HTTP requests: to cache pods and the Service with
// the site's Host header, and to the origin's control surface. Each
// request opens a new connection, so requests to a Service are spread
// over its pods as new clients' would be.
type web struct {
	client *http.Client
}

func newWeb() *web {
	return &web{client: &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   15 * time.Second,
	}}
}

// get requests path from a cache at addr ("ip:port") as a client of the
// site would.
func (w *web) get(ctx context.Context, addr, path string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return answer{}, err
	}
	req.Host = siteHost
	resp, err := w.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s from %s: %w", path, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("GET %s from %s: reading the body: %w", path, addr, err)
	}
	a := answer{Status: resp.StatusCode, Age: resp.Header.Get("Age"), Release: resp.Header.Get("X-Origin-Release")}
	for _, v := range resp.Header.Values("Cache-Status") {
		for member := range strings.SplitSeq(v, ",") {
			if m := strings.TrimSpace(member); strings.HasPrefix(m, "cacheproxy") {
				a.CacheStatus = m
			}
		}
	}
	if m := bodyVersion.FindSubmatch(body); m != nil {
		a.Version, _ = strconv.Atoi(string(m[1]))
	}
	return a, nil
}

// post sends an empty POST, as the origin's control surface wants.
func (w *web) post(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// curlLine is the curl command equivalent to get(addr, path), shown to
// the reader so they can run it themselves.
func curlLine(addr, path string) string {
	return fmt.Sprintf("curl -si -H 'Host: %s' http://%s%s", siteHost, addr, path)
}
