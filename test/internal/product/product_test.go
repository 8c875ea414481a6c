package product

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cacheops/purge-operator/test/internal/repo"
)

func TestManifest(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Manifest(root)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, InstallManifest))
	if err != nil {
		t.Fatal(err)
	}
	if plain != string(raw) {
		t.Error("without arguments, Manifest changed the file")
	}
	for _, name := range []string{"name: " + Namespace + "\n", "name: " + Deployment + "\n", "name: " + GatewayService + "\n", "        name: " + Container + "\n", "name: " + MetricsReaderRole + "\n", "containerPort: " + strconv.Itoa(MetricsPort) + "\n"} {
		if !strings.Contains(plain, name) {
			t.Errorf("%s has no %q: update the names of package product", InstallManifest, name)
		}
	}
	for _, crd := range CRDs {
		if !strings.Contains(plain, "  name: "+crd+"\n") {
			t.Errorf("%s has no CRD %s: update product.CRDs", InstallManifest, crd)
		}
	}
	got, err := Manifest(root, "--pod-call-timeout=3s", "--max-concurrent-purges=2")
	if err != nil {
		t.Fatal(err)
	}
	want := "        - --leader-elect\n        - --pod-call-timeout=3s\n        - --max-concurrent-purges=2\n"
	if !strings.Contains(got, want) || len(got) != len(plain)+len(want)-len("        - --leader-elect\n") {
		t.Errorf("the arguments were not added after --leader-elect, or something else changed:\n%s", got)
	}
}

func TestManifestRefusesAnUnknownLayout(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, InstallManifest), []byte("args:\n        - --leader-elect=false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Manifest(root, "--pod-call-timeout=3s")
	if err == nil || !strings.Contains(err.Error(), "no longer start with --leader-elect") {
		t.Errorf("Manifest = %v, want an error naming the anchor", err)
	}
	if _, err := Manifest(t.TempDir()); err == nil {
		t.Error("Manifest of a root without dist/install.yaml: no error")
	}
}
