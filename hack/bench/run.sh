#!/usr/bin/env bash
# hack/bench/run.sh: the benchmarks behind `make bench`.
#
#   make bench                        # default run: about 21 minutes on 2 cores
#   make bench BENCH_FLAGS=--short    # quick look: about 2.5 minutes, labelled SHORT
#   hack/bench/run.sh --only=datapath,protection --rounds=2
#   hack/bench/run.sh --help          # every flag of the driver
#   hack/bench/run.sh --baseline=HEAD~1 --only=datapath
#                                     # before/after: cacheproxy built from
#                                     # that revision runs beside this one
#
# What it does:
#   1. installs Varnish, nginx (with the cache purge module) and wrk from the
#      Debian packages when a command is missing (apt-get; root or sudo);
#   2. builds bin/cacheproxy, bin/manager, bin/k8s and bin/images (the fleet's
#      operator and cache pods run these images) when not run by make (make
#      bench has just done it), and the driver, test/cmd/bench;
#   3. runs the driver: every server on a free loopback port, every load
#      bounded in time, every process stopped at the end, even on failure;
#   4. the driver writes test/.state/bench/results-<timestamp>.md and .json
#      and prints the Markdown.
# docs/benchmarks.md explains the setup and reads the latest full run.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
started=$(date +%s)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- 1. tools --------------------------------------------------------------
missing=()  # packages the benchmark needs
optional=() # packages it can do without
command -v varnishd >/dev/null 2>&1 || missing+=(varnish)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
# nginx cannot purge without this module; it then sits out the purge tests.
purge_module=/usr/lib/nginx/modules/ngx_http_cache_purge_module.so
[[ -e $purge_module ]] || optional+=(libnginx-mod-http-cache-purge)

apt_install() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ((${#missing[@]} + ${#optional[@]})); then
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null 2>&1; then
			((${#missing[@]})) && { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
			optional=()
		fi
		sudo=(sudo)
	fi
fi
if ((${#missing[@]} + ${#optional[@]})); then
	log "installing ${missing[*]} ${optional[*]} (apt-get)"
	# The packages would start their system services (nginx on :80,
	# varnishd on :6081) where no init system runs them; a policy-rc.d that
	# refuses service starts prevents that, and goes away afterwards.
	policy=/usr/sbin/policy-rc.d
	made_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		made_policy=1
	fi
	rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || rc=$?
	if ((rc == 0 && ${#missing[@]})); then
		apt_install "${missing[@]}" || rc=$?
	fi
	if ((rc == 0 && ${#optional[@]})); then
		apt_install "${optional[@]}" || log "could not install ${optional[*]}: nginx sits out the purge tests"
	fi
	[[ -n $made_policy ]] && "${sudo[@]}" rm -f "$policy"
	((rc == 0)) || { log "apt-get failed (exit status $rc)"; exit 1; }
fi
for tool in varnishd nginx wrk; do
	command -v "$tool" >/dev/null 2>&1 || { log "$tool is still missing"; exit 1; }
done
log "varnishd: $(varnishd -V 2>&1 | head -n1)"
log "nginx:    $(nginx -v 2>&1 | head -n1)"
log "wrk:      $(wrk -v 2>&1 | head -n1 | sed 's/ Copyright.*//')"
log "go:       $(go version)"
[[ -e $purge_module ]] && log "nginx cache purge module: $purge_module"

# --- 2. build --------------------------------------------------------------
# --baseline=REV is run.sh's own flag; the rest go to the driver. Only the
# fleet section needs the Kubernetes binaries: --only without it skips them.
orig=("$@")
baseline=
args=()
needs_k8s=1
for arg in "$@"; do
	case $arg in
	--baseline=*) baseline=${arg#--baseline=} ;;
	*)
		[[ $arg == --only=* && $arg != *fleet* ]] && needs_k8s=
		args+=("$arg")
		;;
	esac
done
set -- "${args[@]}"
targets=(build)
[[ -n $needs_k8s ]] && targets+=(envtest images)
if [[ -z ${MAKELEVEL:-} ]]; then
	log "building (make ${targets[*]})"
	make --no-print-directory "${targets[@]}" >&2
fi
bins=(bin/cacheproxy bin/manager)
[[ -n $needs_k8s ]] && bins+=(bin/k8s/kube-apiserver bin/k8s/etcd bin/k8s/kube-controller-manager bin/k8s/kubectl)
for bin in "${bins[@]}"; do
	[[ -x $bin ]] || { log "$bin missing: run make ${targets[*]}"; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/purge-bench-driver-XXXXXX")
driver_pid=
cleanup() {
	local rc=$?
	if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
		# The driver stops its servers and the cluster on SIGTERM.
		kill -TERM "$driver_pid" 2>/dev/null || true
		wait "$driver_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
go build -o "$work/bench" ./test/cmd/bench
if [[ -n $baseline ]]; then
	rev=$(git rev-parse --short "$baseline")
	log "building cacheproxy at $rev (--baseline) as cacheproxy-before"
	git worktree add --quiet --detach "$work/baseline-src" "$rev"
	(cd "$work/baseline-src" && go build -o "$work/cacheproxy-before" ./cmd/cacheproxy) || true
	git worktree remove --force "$work/baseline-src"
	[[ -x $work/cacheproxy-before ]] || { log "building the baseline failed"; exit 1; }
	set -- --baseline-bin="$work/cacheproxy-before" "$@"
fi

# --- 3. run ----------------------------------------------------------------
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	commit+="+uncommitted"
fi
if [[ -n ${MAKELEVEL:-} ]]; then
	command="make bench${orig[*]:+ BENCH_FLAGS='${orig[*]}'}"
else
	command="hack/bench/run.sh${orig[*]:+ ${orig[*]}}"
fi
# The fleet section starts the local cluster, a real node: as root (with
# sudo when not root; hack/as-root.sh says so first).
runner=()
if [[ -n $needs_k8s ]]; then
	"$root/hack/as-root.sh" --check
	runner=("$root/hack/as-root.sh")
fi
"${runner[@]}" "$work/bench" --bin-dir "$root/bin" --config-dir "$root/hack/bench" --crd-dir "$root/config/crd/bases" \
	--repo-dir "$root" --out "$root/test/.state/bench" --commit "$commit" --command "$command" "$@" &
driver_pid=$!
rc=0
wait "$driver_pid" || rc=$?
driver_pid=
log "benchmarks took $(($(date +%s) - started))s (exit status $rc)"
exit "$rc"
