#!/usr/bin/env bash
# setup-envtest.sh builds the Kubernetes binaries the tests and the demo run
# (kube-apiserver, etcd, kube-controller-manager, kubectl, and for the local
# cluster's node kube-scheduler, kubelet and kube-proxy) from Go modules into
# bin/k8s/, skipping any that already exist, and prints that directory, ready
# for KUBEBUILDER_ASSETS. Release archives cannot be downloaded on the machines
# this project is built on; the sources come from the Go module proxy instead.
#
# The first run takes several minutes on 2 cores (kube-apiserver is the
# largest); later runs find the binaries, or hit the Go build cache. The
# three node binaries add about a minute to a cold build (they share most
# packages with the others) and ten seconds of linking to a warm one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
k8s_version=${K8S_VERSION:-v1.37.2}
out=${ENVTEST_DIR:-$root/bin/k8s}
tools=$root/hack/tools/k8s

mkdir -p "$out"

# Honest --version output: the same stamps the upstream release build sets.
minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean"
done

# build PACKAGE... builds, in one go command so the compiler and the linker
# run in parallel, every package whose binary is missing from $out.
build() {
	local missing=()
	for pkg in "$@"; do
		[[ -x $out/$(binary "$pkg") ]] || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	echo "building ${missing[*]} (first time: several minutes)" >&2
	local start=$SECONDS tmp
	tmp=$(mktemp -d "$out/.build.XXXXXX")
	(cd "$tools" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${missing[@]}")
	for pkg in "${missing[@]}"; do
		mv "$tmp/$(go_name "$pkg")" "$out/$(binary "$pkg")"
	done
	rmdir "$tmp"
	echo "built in $((SECONDS - start))s" >&2
}

# go_name is the file name go build gives a main package; binary is ours.
go_name() { local p=${1%/v[0-9]*}; echo "${p##*/}"; }
binary() { case $1 in go.etcd.io/etcd/server/*) echo etcd ;; *) go_name "$1" ;; esac; }

build go.etcd.io/etcd/server/v3 \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kubectl \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubelet \
	k8s.io/kubernetes/cmd/kube-proxy

echo "$out"
