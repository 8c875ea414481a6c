package localcluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// imageName returns the basename of an image reference's repository,
// without registry, path, tag or digest:
// "ghcr.io/cacheops/cacheproxy:v0.1.0" and "cacheproxy@sha256:ab..." are
// both "cacheproxy".
func imageName(image string) string {
	ref, _, _ := strings.Cut(image, "@")
	if slash := strings.LastIndex(ref, "/"); slash >= 0 {
		ref = ref[slash+1:]
	}
	ref, _, _ = strings.Cut(ref, ":")
	return ref
}

// imageError is why a container's image cannot run here; its Reason is the
// one a kubelet would report.
type imageError struct {
	Reason  string
	Message string
}

func (e *imageError) Error() string { return e.Message }

// resolveImage returns the local binary that plays image.
func resolveImage(images map[string]string, image string) (string, error) {
	name := imageName(image)
	if bin, ok := images[name]; ok {
		return bin, nil
	}
	known := make([]string, 0, len(images))
	for k := range images {
		known = append(known, k)
	}
	slices.Sort(known)
	return "", &imageError{
		Reason:  "ErrImagePull",
		Message: fmt.Sprintf("localcluster: no local binary for image %q (looked up %q; known images: %s)", image, name, strings.Join(known, ", ")),
	}
}

// containerArgv returns the program and arguments a container runs. Without
// a command the image's binary runs with args, as its entrypoint would. With
// a command, its first word must name that binary (as "/cacheproxy" or
// "cacheproxy" would in the image): there is no image filesystem to find any
// other program in, and running the binary in its place would run something
// the pod did not ask for.
func containerArgv(binary, image string, command, args []string) (string, []string, error) {
	if len(command) == 0 {
		return binary, args, nil
	}
	first := filepath.Base(command[0])
	if first != filepath.Base(binary) && first != imageName(image) {
		return "", nil, &imageError{
			Reason:  "CreateContainerError",
			Message: fmt.Sprintf("localcluster: command %q is not the image's binary %q; only the image's own binary can run here", command[0], filepath.Base(binary)),
		}
	}
	return binary, append(slices.Clone(command[1:]), args...), nil
}
