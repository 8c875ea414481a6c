#!/usr/bin/env bash
# setup-node.sh installs what the local cluster's node runs on this host:
# containerd, runc, the CNI plugins, iptables and conntrack (kube-proxy), and
# gcc with the static C library (the pause image is compiled from
# Kubernetes' own pause.c). It uses Debian's packages, installs only what is
# missing, and starts no service: the local cluster runs its own containerd
# with its own configuration, root and socket.
#
# Versions: Debian 12 ships containerd 1.6, runc 1.1 and CNI plugins 1.1.
# The script refuses another major.minor than the ones the local cluster is
# tested with (kubelet 1.37 needs its cgroup v1 and CRI fallbacks for these;
# see test/localcluster/doc.go), instead of pinning Debian revisions, which the
# archive drops when a security update replaces them.
set -euo pipefail

# package=version prefix the node is tested with.
packages=(
	containerd=1.6.
	runc=1.1.
	containernetworking-plugins=1.1.
	iptables=1.8.
	conntrack=1:1.4.
	gcc=
	libc6-dev=
)

installed() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

missing=()
for p in "${packages[@]}"; do
	[[ -n $(installed "${p%%=*}") ]] || missing+=("${p%%=*}")
done
if ((${#missing[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "setup-node.sh: missing packages ${missing[*]}; run as root (sudo $0)" >&2
		exit 1
	fi
	echo "installing ${missing[*]}" >&2
	# Refresh the package lists once when they are absent (fresh machines).
	compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get -q -o DPkg::Lock::Timeout=600 update >&2
	# Wait for another apt-get (other engineers, a parallel make) instead of failing.
	apt=(apt-get -q -o DPkg::Lock::Timeout=600)
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ "${apt[@]}" update >&2 && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }
fi
for p in "${packages[@]}"; do
	name=${p%%=*} want=${p#*=} have=$(installed "${p%%=*}")
	if [[ $have != "$want"* ]]; then
		echo "setup-node.sh: $name $have is installed; the local cluster is tested with $want*" >&2
		exit 1
	fi
done
