package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Base is what an image holds besides its own files.
type Base string

const (
	// BaseNone adds nothing: the image holds only its files (pause).
	BaseNone Base = "none"
	// BaseNonroot adds what distroless/static:nonroot gives a static
	// binary: /etc/passwd and /etc/group with root, nobody and nonroot
	// (65532), a sticky world-writable /tmp, /home/nonroot owned by
	// nonroot, and the CA bundle (Spec.CABundle).
	BaseNonroot Base = "nonroot"
)

// Spec describes one image.
type Spec struct {
	// Files maps a path in the image to a file on this machine. Parent
	// directories are created (0755, root).
	Files map[string]string
	// Base is what the image holds besides Files. Unset: BaseNone.
	Base Base
	// CABundle is the file copied to /etc/ssl/certs/ca-certificates.crt
	// with BaseNonroot. Unset: the build machine's bundle at that path.
	CABundle string
	// Entrypoint is the image's entrypoint; it must be set.
	Entrypoint []string
	// User is the image's user, e.g. "65532:65532". Unset: root.
	User string
	// Labels become the config's labels (org.opencontainers.image.source...).
	Labels map[string]string
}

// epoch is every file's time, so the layer does not depend on when or
// where it was built.
var epoch = time.Unix(0, 0).UTC()

// DefaultCABundle is where Debian keeps the CA bundle, and where
// BaseNonroot puts it in the image (Go's crypto/x509 looks there first).
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// Build assembles the image Spec describes, for linux/amd64 or whatever
// architecture the files were built for (arch).
func Build(s Spec, arch string) (v1.Image, error) {
	if len(s.Entrypoint) == 0 {
		return nil, errors.New("an image needs an entrypoint")
	}
	entries, err := s.entries()
	if err != nil {
		return nil, err
	}
	layerTar, err := writeLayer(entries)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, fmt.Errorf("adding layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.User = s.User
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Labels = s.Labels
	if s.Base == BaseNonroot {
		cf.Config.WorkingDir = "/home/nonroot"
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	return img, nil
}

// entry is one file or directory of the layer.
type entry struct {
	name     string // without a leading slash; directories end in "/"
	mode     int64
	uid, gid int
	data     []byte // files only
}

// entries lists the layer's content: the base, then the files, then every
// missing parent directory, sorted by name.
func (s Spec) entries() ([]entry, error) {
	byName := map[string]entry{}
	add := func(e entry) { byName[e.name] = e }
	switch s.Base {
	case "", BaseNone:
	case BaseNonroot:
		for _, e := range nonrootBase() {
			add(e)
		}
		ca := s.CABundle
		if ca == "" {
			ca = DefaultCABundle
		}
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("reading CA bundle: %w", err)
		}
		add(entry{name: strings.TrimPrefix(DefaultCABundle, "/"), mode: 0o644, data: data})
	default:
		return nil, fmt.Errorf("unknown base %q (want %q or %q)", s.Base, BaseNone, BaseNonroot)
	}
	for dst, src := range s.Files {
		name := strings.TrimPrefix(path.Clean("/"+dst), "/")
		if name == "" || strings.HasSuffix(dst, "/") {
			return nil, fmt.Errorf("image path %q must name a file", dst)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("reading %s for %s: %w", src, dst, err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", src, err)
		}
		mode := int64(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		add(entry{name: name, mode: mode, data: data})
	}
	for name := range byName {
		for dir := path.Dir(strings.TrimSuffix(name, "/")); dir != "."; dir = path.Dir(dir) {
			if _, ok := byName[dir+"/"]; !ok {
				add(entry{name: dir + "/", mode: 0o755})
			}
		}
	}
	out := make([]entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// nonrootBase is the part of distroless/static:nonroot a static Go binary
// needs: users, groups, /tmp and a home.
func nonrootBase() []entry {
	return []entry{
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{name: "tmp/", mode: 0o1777},
		{name: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
	}
}

// writeLayer writes entries as an uncompressed tar.
func writeLayer(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch, Format: tar.FormatPAX}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer: %w", err)
	}
	return buf.Bytes(), nil
}
