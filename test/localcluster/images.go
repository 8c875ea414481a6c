package localcluster

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// containerdImageNameAnnotation names the image an OCI archive's manifest
// is imported as (make images writes it; `ctr images import` reads it).
const containerdImageNameAnnotation = "io.containerd.image.name"

// ImageName is the name an image archive of make images is imported under,
// such as ghcr.io/cacheops/demo-origin:v0.1.0: what a pod's image field
// names to run it (with imagePullPolicy IfNotPresent or Never, since
// nothing can be pulled). It is read from the archive's index.json, so a
// test does not repeat the tag the Makefile chose.
func ImageName(archive string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", fmt.Errorf("opening image archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("image archive %s has no index.json: not an OCI archive of make images", archive)
		}
		if err != nil {
			return "", fmt.Errorf("reading image archive %s: %w", archive, err)
		}
		if h.Name != "index.json" {
			continue
		}
		var index struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.NewDecoder(tr).Decode(&index); err != nil {
			return "", fmt.Errorf("reading index.json of image archive %s: %w", archive, err)
		}
		for _, m := range index.Manifests {
			if name := m.Annotations[containerdImageNameAnnotation]; name != "" {
				return name, nil
			}
		}
		return "", fmt.Errorf("image archive %s names no image (no %s annotation)", archive, containerdImageNameAnnotation)
	}
}
