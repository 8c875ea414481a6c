package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// samplesDir is where the samples live, relative to the repository.
const samplesDir = "config/samples"

// sampleOriginURL is the origin the CacheProxy sample names: Service web of
// namespace web, which only the deploy step runs; the steps before it put
// the demo origin on the host in its place.
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
	return prepareFile(repoDir, outDir, filepath.Join(samplesDir, name),
		replacement{old: sampleOriginURL, new: originURL, note: "origin → " + originURL})
}

// replacement is a change a file needs to run here, and how the narration
// names it.
type replacement struct{ old, new, note string }

// prepareFile reads source (relative to repoDir) and, if any of reps
// applies (its old text is there and differs from its new), writes the
// changed copy into outDir under the same base name.
func prepareFile(repoDir, outDir, source string, reps ...replacement) (sample, error) {
	s := sample{Name: filepath.Base(source), Source: source}
	raw, err := os.ReadFile(filepath.Join(repoDir, s.Source))
	if err != nil {
		return s, fmt.Errorf("reading sample: %w", err)
	}
	text := string(raw)
	for _, r := range reps {
		if r.old != r.new && strings.Contains(text, r.old) {
			text = strings.ReplaceAll(text, r.old, r.new)
			s.Changes = append(s.Changes, r.note)
		}
	}
	if len(s.Changes) == 0 {
		s.Applied = s.Source
		return s, nil
	}
	s.Applied = filepath.Join(outDir, s.Name)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return s, err
	}
	if err := os.WriteFile(s.Applied, []byte(text), 0o644); err != nil {
		return s, fmt.Errorf("writing the changed sample: %w", err)
	}
	return s, nil
}
