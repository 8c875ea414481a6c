package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cacheops/purge-operator/hack/imgtool/ociimage"
)

// writeInputs writes a fake binary and a CA bundle, and returns their paths.
func writeInputs(t *testing.T) (bin, ca string) {
	t.Helper()
	dir := t.TempDir()
	bin, ca = filepath.Join(dir, "server"), filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(bin, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return bin, ca
}

func buildArchive(t *testing.T, args ...string) (path, stdout string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "img.tar")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"build", "-o", path}, args...), &out, &errOut); err != nil {
		t.Fatalf("build: %v\n%s", err, errOut.String())
	}
	return path, out.String()
}

func TestBuildIsReproducible(t *testing.T) {
	bin, ca := writeInputs(t)
	args := []string{"-tag", "example.com/server:v1", "-entrypoint", "/server", "-user", "65532:65532",
		"-base", "nonroot", "-ca", ca, "/server=" + bin}
	a, outA := buildArchive(t, args...)
	// Another modification time must not matter.
	if err := os.Chtimes(bin, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	b, outB := buildArchive(t, args...)
	if digestOf(outA) != digestOf(outB) || digestOf(outA) == "" {
		t.Fatalf("two builds gave %q and %q", outA, outB)
	}
	ra, _ := os.ReadFile(a)
	rb, _ := os.ReadFile(b)
	if !bytes.Equal(ra, rb) {
		t.Fatal("two builds of the same inputs wrote different archives")
	}
}

func digestOf(out string) string {
	_, d, _ := strings.Cut(strings.TrimSpace(out), "@")
	return d
}

// readTar returns every regular file of a tar stream.
func readTar(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
	}
}

func TestArchiveIsAnOCILayoutContainerdCanName(t *testing.T) {
	bin, ca := writeInputs(t)
	path, out := buildArchive(t, "-tag", "ghcr.io/cacheops/cacheproxy:v0.1.0", "-tag", "cacheproxy:dev",
		"-entrypoint", "/cacheproxy", "-user", "65532:65532", "-base", "nonroot", "-ca", ca, "/cacheproxy="+bin)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := readTar(t, f)
	for _, want := range []string{"oci-layout", "index.json", "manifest.json", "blobs/sha256/" + strings.TrimPrefix(digestOf(out), "sha256:")} {
		if files[want] == nil {
			t.Errorf("archive lacks %s", want)
		}
	}

	err = ociimage.WithArchive(path, func(img v1.Image) error {
		d, err := img.Digest()
		if err != nil || d.String() != digestOf(out) {
			t.Errorf("read back digest %v (%v), built %s", d, err, digestOf(out))
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/cacheproxy" || cf.OS != "linux" || !cf.Created.IsZero() {
			t.Errorf("config = %+v, created %v", cf.Config, cf.Created)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("layers = %d, %v", len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		content := readTar(t, rc)
		for name, mode := range map[string]int64{"cacheproxy": 0o755, "etc/passwd": 0o644, "tmp/": 0o1777,
			"etc/ssl/certs/ca-certificates.crt": 0o644, "home/nonroot/": 0o700, "etc/ssl/": 0o755} {
			h := content[name]
			if h == nil {
				t.Errorf("layer lacks %s", name)
				continue
			}
			if h.Mode != mode || h.ModTime.Unix() != 0 {
				t.Errorf("%s: mode %o time %v, want mode %o at the epoch", name, h.Mode, h.ModTime, mode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var index v1.IndexManifest
	readJSON(t, path, "index.json", &index)
	var names []string
	for _, m := range index.Manifests {
		names = append(names, m.Annotations["io.containerd.image.name"]+" "+m.Annotations["org.opencontainers.image.ref.name"])
	}
	want := []string{"ghcr.io/cacheops/cacheproxy:v0.1.0 v0.1.0", "index.docker.io/library/cacheproxy:dev dev"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("index names %q, want %q", names, want)
	}
}

func readJSON(t *testing.T, archive, file string, v any) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in archive: %v", file, err)
		}
		if h.Name == file {
			if err := json.NewDecoder(tr).Decode(v); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}

func TestPushKeepsTheDigest(t *testing.T) {
	bin, _ := writeInputs(t)
	path, out := buildArchive(t, "-tag", "example.com/server:v1", "-entrypoint", "/server", "/server="+bin)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref, err := name.ParseReference(u.Host + "/team/server:v1")
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := ociimage.Push(context.Background(), path, ref, authn.DefaultKeychain)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.String() != digestOf(out) {
		t.Errorf("pushed %s, built %s", pushed, digestOf(out))
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digestOf(out) {
		t.Errorf("registry holds %s, built %s", desc.Digest, digestOf(out))
	}
}

func TestBadInput(t *testing.T) {
	bin, _ := writeInputs(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "bad usage"},
		{"unknown command", []string{"bake"}, `unknown command "bake"`},
		{"no tag", []string{"build", "-o", dir + "/a.tar", "-entrypoint", "/x", "/x=" + bin}, "needs -o, -tag"},
		{"bad tag", []string{"build", "-o", dir + "/a.tar", "-tag", "UPPER:case:x", "-entrypoint", "/x", "/x=" + bin}, "image tag"},
		{"no entrypoint", []string{"build", "-o", dir + "/a.tar", "-tag", "x:1", "/x=" + bin}, "needs an entrypoint"},
		{"not DEST=SRC", []string{"build", "-o", dir + "/a.tar", "-tag", "x:1", "-entrypoint", "/x", bin}, "is not DEST=SRC"},
		{"missing file", []string{"build", "-o", dir + "/a.tar", "-tag", "x:1", "-entrypoint", "/x", "/x=" + dir + "/nope"}, "reading"},
		{"unknown base", []string{"build", "-o", dir + "/a.tar", "-tag", "x:1", "-entrypoint", "/x", "-base", "alpine", "/x=" + bin}, `unknown base "alpine"`},
		{"push args", []string{"push", dir + "/a.tar"}, "bad usage"},
		{"push missing archive", []string{"push", dir + "/nope.tar", "example.com/x:1"}, "nope.tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(dir + "/a.tar"); !os.IsNotExist(err) {
		t.Errorf("a failed build left an archive: %v", err)
	}
}
