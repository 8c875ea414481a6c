package localcluster

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeArchive writes a tar holding files (name → content).
func writeArchive(t *testing.T, files map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := tar.NewWriter(f)
	for name, content := range files {
		if err := w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImageName(t *testing.T) {
	const index = `{"schemaVersion":2,"manifests":[{"digest":"sha256:7e18","annotations":` +
		`{"io.containerd.image.name":"ghcr.io/cacheops/demo-origin:v0.1.0","org.opencontainers.image.ref.name":"v0.1.0"}}]}`
	got, err := ImageName(writeArchive(t, map[string]string{"oci-layout": `{}`, "index.json": index}))
	if err != nil || got != "ghcr.io/cacheops/demo-origin:v0.1.0" {
		t.Fatalf("ImageName = %q, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"no index.json", writeArchive(t, map[string]string{"oci-layout": `{}`}), "has no index.json"},
		{"no name", writeArchive(t, map[string]string{"index.json": `{"manifests":[{"annotations":{}}]}`}), "names no image"},
		{"bad index.json", writeArchive(t, map[string]string{"index.json": `{`}), "reading index.json"},
		{"missing", filepath.Join(t.TempDir(), "nope.tar"), "opening image archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ImageName(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
