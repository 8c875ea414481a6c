#!/usr/bin/env bash
# as-root.sh runs a program that starts the local cluster (test/localcluster),
# whose node is real: kubelet, containerd and runc in a network namespace of
# its own, with cgroups and mounts. That needs Linux and root.
#
#   hack/as-root.sh --check     say what the node needs, and as a user with
#                               sudo, ask for the password once, up front
#   hack/as-root.sh CMD ARGS... run CMD as root: directly when already root
#                               (CI, the build machines), otherwise with sudo,
#                               keeping the environment and PATH (with the
#                               sbin directories added)
#
# make demo, make test, make test-e2e and make bench run their programs
# through it (go test -exec for the tests). Files the node writes under
# test/.state then belong to root.
set -euo pipefail

need="the local cluster runs a real Kubernetes node (kubelet, containerd, runc, a network namespace, cgroups), which needs Linux and root"

if [[ $(uname -s) != Linux ]]; then
	echo "as-root.sh: $need; this is $(uname -s). With Docker and kind, make kind-demo runs the demo on kind instead." >&2
	exit 1
fi
if [[ $(id -u) == 0 ]]; then
	[[ ${1:-} == --check ]] && { echo "as-root.sh: $need: running as root." >&2; exit 0; }
	exec "$@"
fi
if ! command -v sudo >/dev/null 2>&1; then
	echo "as-root.sh: $need; you are not root and sudo is not installed: run make as root." >&2
	exit 1
fi
if [[ ${1:-} == --check ]]; then
	echo "as-root.sh: $need: the node's programs will run with sudo." >&2
	exec sudo --validate
fi
# The user's PATH, plus the system directories a user's PATH often lacks
# and the node's tools live in (sysctl, iptables, ip, modprobe).
exec sudo --preserve-env env "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin" "$@"
