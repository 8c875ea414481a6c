#!/usr/bin/env bash
# images.sh builds the project's container images as OCI archives in
# bin/images/ without Docker or a registry (make images):
#
#   manager.tar      $IMG             bin/manager       nonroot, 65532
#   cacheproxy.tar   $CACHEPROXY_IMG  bin/cacheproxy    nonroot, 65532
#   demo-origin.tar  $DEMO_ORIGIN_IMG bin/demo-origin   nonroot, 65532
#                                     and bin/http-request (a pod of the demo
#                                     site sends purges with it: no curl here)
#   pause.tar        $PAUSE_IMG       Kubernetes' own build/pause/linux/pause.c,
#                                     compiled with gcc -static (uid 65535)
#   coredns.tar      $COREDNS_IMG     CoreDNS from its Go module with the local
#                                     cluster's plugins (hack/tools/coredns), nonroot
#
# The Go binaries must be static (make build builds them with CGO_ENABLED=0,
# -trimpath and -buildvcs=false); the archives are reproducible: the same commit and
# toolchain give the same image digests (hack/imgtool says how).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BIN_DIR:-$root/bin}
out=${IMAGES_DIR:-$bin/images}
version=${VERSION:-v0.1.0}
k8s_version=${K8S_VERSION:-v1.37.2}
img=${IMG:-ghcr.io/cacheops/purge-operator:$version}
cacheproxy_img=${CACHEPROXY_IMG:-ghcr.io/cacheops/cacheproxy:$version}
demo_origin_img=${DEMO_ORIGIN_IMG:-ghcr.io/cacheops/demo-origin:$version}
# The pause version Kubernetes $k8s_version ships (build/pause/Makefile's TAG).
pause_version=3.10.2
pause_img=${PAUSE_IMG:-registry.k8s.io/pause:$pause_version}
# The CoreDNS version hack/tools/coredns/go.mod pins; the name says it is
# the local cluster's own build, not upstream's image.
coredns_version=$(cd "$root/hack/tools/coredns" && go list -m -f '{{.Version}}' github.com/coredns/coredns)
coredns_img=${COREDNS_IMG:-localcluster.local/coredns:$coredns_version}

mkdir -p "$out"
(cd "$root" && go build -o "$bin/imgtool" ./hack/imgtool)

for b in manager cacheproxy demo-origin http-request; do
	if [[ ! -x $bin/$b ]]; then
		echo "images.sh: $bin/$b is missing; run make build first" >&2
		exit 1
	fi
	if ! go version -m "$bin/$b" | grep -q 'CGO_ENABLED=0'; then
		echo "images.sh: $bin/$b is dynamically linked; build it with CGO_ENABLED=0 (make build)" >&2
		exit 1
	fi
done

# pause.c comes with the k8s.io/kubernetes module hack/tools/k8s pins.
pause_src=$(cd "$root/hack/tools/k8s" && go mod download -json k8s.io/kubernetes | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c
gcc -Os -Wall -Werror -static -s -DVERSION="v$pause_version" -o "$bin/pause" "$pause_src"
(cd "$root/hack/tools/coredns" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-s -o "$bin/coredns" .)

source=--label=org.opencontainers.image.source=https://github.com/cacheops/purge-operator
nonroot=(-base nonroot -user 65532:65532 "$source")
"$bin/imgtool" build -o "$out/manager.tar" -tag "$img" -entrypoint /manager "${nonroot[@]}" /manager="$bin/manager"
"$bin/imgtool" build -o "$out/cacheproxy.tar" -tag "$cacheproxy_img" -entrypoint /cacheproxy "${nonroot[@]}" /cacheproxy="$bin/cacheproxy"
"$bin/imgtool" build -o "$out/demo-origin.tar" -tag "$demo_origin_img" -entrypoint /demo-origin "${nonroot[@]}" /demo-origin="$bin/demo-origin" /http-request="$bin/http-request"
"$bin/imgtool" build -o "$out/pause.tar" -tag "$pause_img" -entrypoint /pause -user 65535:65535 /pause="$bin/pause"
"$bin/imgtool" build -o "$out/coredns.tar" -tag "$coredns_img" -entrypoint /coredns "${nonroot[@]}" /coredns="$bin/coredns"
