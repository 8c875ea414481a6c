package demo

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cacheops/purge-operator/test/origin"
)

// samplesDir is where the samples live, relative to the repository.
const samplesDir = "config/samples"

// sampleOriginURL is the origin the CacheProxy sample names: a Service in
// a real cluster, replaced by the demo origin's local URL.
const sampleOriginURL = "http://web.web.svc:8080"

// stand-ins for sample paths the demo origin does not serve (yet): the
// sample stays the file applied, with only its URLs' paths replaced, and
// the narration says so. Once the origin serves a path, its stand-in is no
// longer used (servedByOrigin decides at run time).
var standIns = map[string]string{
	"/static/app.js":   "/img/logo.svg", // a long-lived static asset, like app.js
	"/api/prices.json": "/api/products/7",
}

// servedByOrigin reports whether the demo origin answers 200 for path.
// It asks a throwaway origin, so the real one's version counters are not
// touched.
func servedByOrigin(path string) bool {
	rec := httptest.NewRecorder()
	origin.New(origin.Options{}).ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
	return rec.Code == http.StatusOK
}

// sample is a manifest of config/samples as the demo applies it.
type sample struct {
	Name    string   // file name, e.g. cache_v1alpha1_purge_simple.yaml
	Source  string   // path of the original, relative to the repository
	Applied string   // path of the file kubectl applies (Source if unchanged)
	Changes []string // what was replaced, for the narration: "origin → http://..."
}

// note is the narration's parenthesis for a changed sample: "(origin →
// http://127.0.0.1:4321)", or "" if it is applied as is.
func (s sample) note() string {
	if len(s.Changes) == 0 {
		return ""
	}
	return " (" + strings.Join(s.Changes, ", ") + ")"
}

// prepareSample reads config/samples/<name> under repoDir and, if it needs
// changes to run here, writes the changed copy into outDir: the sample's
// origin becomes originURL, and URLs whose path the demo origin does not
// serve get their stand-in.
func prepareSample(repoDir, outDir, name, originURL string) (sample, error) {
	s := sample{Name: name, Source: filepath.Join(samplesDir, name)}
	raw, err := os.ReadFile(filepath.Join(repoDir, s.Source))
	if err != nil {
		return s, fmt.Errorf("reading sample: %w", err)
	}
	text := string(raw)
	if strings.Contains(text, sampleOriginURL) {
		text = strings.ReplaceAll(text, sampleOriginURL, originURL)
		s.Changes = append(s.Changes, "origin → "+originURL)
	}
	for _, path := range slices.Sorted(maps.Keys(standIns)) {
		url := "https://" + siteHost + path
		if !strings.Contains(text, url) || servedByOrigin(path) {
			continue
		}
		text = strings.ReplaceAll(text, url, "https://"+siteHost+standIns[path])
		s.Changes = append(s.Changes, fmt.Sprintf("%s → %s", path, standIns[path]))
	}
	if len(s.Changes) == 0 {
		s.Applied = s.Source
		return s, nil
	}
	s.Applied = filepath.Join(outDir, name)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return s, err
	}
	if err := os.WriteFile(s.Applied, []byte(text), 0o644); err != nil {
		return s, fmt.Errorf("writing the changed sample: %w", err)
	}
	return s, nil
}

// servedPath is the path the demo requests for a sample URL's path: the
// stand-in if the origin does not serve it.
func servedPath(path string) string {
	if standIn, ok := standIns[path]; ok && !servedByOrigin(path) {
		return standIn
	}
	return path
}
