#!/usr/bin/env bash
# install-chromium.sh makes sure a headless Chromium is on this machine for
# the dashboard's browser tests (cmd/kubectl-purge/internal/dashboard), and
# prints its path. It installs Debian's chromium package with apt-get when
# none is found (as root, or through sudo when that needs no password).
# It exits 0 and prints nothing when Chromium cannot be installed: the
# browser tests then skip with a message saying so.
set -uo pipefail

find_chromium() {
	local c
	for c in "${CHROMIUM:-}" chromium chromium-browser google-chrome-stable google-chrome; do
		[[ -n $c ]] && command -v "$c" 2>/dev/null && return 0
	done
	return 1
}

if find_chromium; then
	exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "install-chromium.sh: chromium is missing and this user cannot run apt-get; the browser tests will skip" >&2
		exit 0
	fi
fi
if ! command -v apt-get >/dev/null; then
	echo "install-chromium.sh: chromium is missing and there is no apt-get here; the browser tests will skip" >&2
	exit 0
fi

echo "install-chromium.sh: installing Debian's chromium package (once)" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's lock may be held by another install on a shared machine: wait for it.
apt_opts=(-o DPkg::Lock::Timeout=600 -y --no-install-recommends)
if ! "${sudo[@]}" apt-get "${apt_opts[@]}" install chromium >&2; then
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
		"${sudo[@]}" apt-get "${apt_opts[@]}" install chromium >&2
fi
find_chromium || {
	echo "install-chromium.sh: installing chromium failed; the browser tests will skip" >&2
	exit 0
}
