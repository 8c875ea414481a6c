// Package ociimage builds single-layer container images of static binaries
// and writes them as OCI archives, without a container engine or a
// registry; hack/imgtool (make images) and the local cluster's tests use it.
//
// An image is one layer of the files a Spec names, over an optional base:
// BaseNonroot adds what distroless/static:nonroot gives a static Go binary
// (passwd and group with nonroot 65532, a sticky /tmp, a CA bundle),
// BaseNone adds nothing (the pause image). Every file gets mode 0755 or
// 0644, owner 0:0 and the Unix epoch as its time, and the config has no
// creation date, so the same inputs give the same digest: one commit, one
// digest.
//
// WriteArchive writes an OCI image layout in a tar file (what `ctr images
// import`, `kind load image-archive`, `docker load` and `podman load` read)
// that also carries a Docker manifest.json pointing into the same blobs, for
// older readers. Its index names the image with the
// org.opencontainers.image.ref.name and io.containerd.image.name
// annotations, which is how containerd tags what it imports. Push uploads
// such an archive to a registry, digest unchanged.
package ociimage
