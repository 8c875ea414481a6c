package ociimage

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations containerd and the OCI image spec read to name an image in
// an index.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// dockerManifestEntry is one element of a Docker archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteArchive writes img, named by every ref, to path as an OCI image
// layout tar with a Docker manifest.json beside it. It writes a temporary
// file and renames it, so a reader never sees half an archive.
func WriteArchive(path string, img v1.Image, refs []name.Tag) (err error) {
	if len(refs) == 0 {
		return errors.New("an archive needs at least one tag")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("creating archive: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := writeArchive(tmp, img, refs); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}

func writeArchive(w io.Writer, img v1.Image, refs []name.Tag) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("reading digest: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("reading config digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}

	layerNames := make([]string, len(layers))
	for i, layer := range layers {
		d, err := layer.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		layerNames[i] = blobPath(d)
	}

	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	docker := dockerManifestEntry{Config: blobPath(configName), Layers: layerNames}
	for _, ref := range refs {
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Size:      int64(len(manifest)),
			Digest:    digest,
			Annotations: map[string]string{
				annotationRefName:        ref.TagStr(),
				annotationContainerdName: ref.Name(),
			},
		})
		docker.RepoTags = append(docker.RepoTags, ref.Name())
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encoding index: %w", err)
	}
	dockerJSON, err := json.Marshal([]dockerManifestEntry{docker})
	if err != nil {
		return fmt.Errorf("encoding manifest.json: %w", err)
	}

	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
		{"manifest.json", dockerJSON},
		{blobPath(digest), manifest},
		{blobPath(configName), config},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return fmt.Errorf("writing archive: %w", err)
		}
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, int64(len(f.data)), func(w io.Writer) error { _, err := w.Write(f.data); return err }); err != nil {
			return err
		}
	}
	for i, layer := range layers {
		size, err := layer.Size()
		if err != nil {
			return fmt.Errorf("reading layer size: %w", err)
		}
		err = writeFile(tw, layerNames[i], size, func(w io.Writer) error {
			rc, err := layer.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(w, rc)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}

// writeFile writes one regular file of size bytes into the archive.
func writeFile(tw *tar.Writer, name string, size int64, body func(io.Writer) error) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := body(tw); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func blobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// WithArchive calls fn with the image of an archive WriteArchive wrote,
// read through its OCI index, so the image keeps its digest (the Docker
// manifest.json would give a re-encoded manifest, and so another digest).
// The image is valid only during fn.
func WithArchive(path string, fn func(v1.Image) error) error {
	dir, err := os.MkdirTemp("", "imgtool-")
	if err != nil {
		return fmt.Errorf("reading image archive: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := untar(path, dir); err != nil {
		return fmt.Errorf("reading image archive %s: %w", path, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("reading image archive %s: %w", path, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading image archive %s: %w", path, err)
	}
	if len(m.Manifests) == 0 {
		return fmt.Errorf("image archive %s holds no image", path)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		return fmt.Errorf("reading image archive %s: %w", path, err)
	}
	return fn(img)
}

// untar extracts the regular files and directories of the tar at path into
// dir, refusing names that would leave dir.
func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("archive entry %q leaves the archive", h.Name)
		}
		target := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("archive entry %q is neither a file nor a directory", h.Name)
		}
	}
}
