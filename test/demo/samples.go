package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// samplesDir is where the samples live, relative to the repository.
const samplesDir = "config/samples"

// sampleOriginURL is the origin the CacheProxy sample names: a Service in
// a real cluster, replaced by the demo origin's local URL.
const sampleOriginURL = "http://web.web.svc:8080"

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
// origin becomes originURL.
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
