#!/usr/bin/env bash
# measure-node.sh: what the local cluster costs on this machine (as root;
# make images first). It starts test/cmd/localcluster, and reports:
#
#   - start: launch to "KUBECONFIG=" (node Ready and schedulable), seconds;
#   - memory of every process of the cluster, idle: PSS (proportional set
#     size, so shared pages count once across processes) by component;
#   - one pod (the demo origin image, an httpGet readiness probe): create to
#     Ready, and its memory: the pod cgroup's charge (its processes and their
#     page cache) plus its containerd shim's PSS;
#   - stop: SIGTERM to everything gone, seconds.
#
#   hack/measure-node.sh [SETTLE_SECONDS]   (default 20: idle time before
#                                            the memory is read)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
settle=${1:-20}
cd "$root"
[[ $(id -u) == 0 ]] || { echo "measure-node.sh: run as root (hack/as-root.sh $0)" >&2; exit 1; }
state=$(mktemp -d "${TMPDIR:-/tmp}/measure-node-XXXXXX")
go build -o "$state/localcluster" ./test/cmd/localcluster
kubectl=(bin/k8s/kubectl --kubeconfig "$state/cluster/kubeconfig")

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
pss_kib() { awk '/^Pss:/ { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

began=$(now)
"$state/localcluster" --state-dir "$state/cluster" --images-dir bin/images >"$state/out" 2>"$state/err" &
lc=$!
trap 'kill -TERM $lc 2>/dev/null; wait $lc 2>/dev/null; rm -rf "$state"' EXIT
until grep -q '^KUBECONFIG=' "$state/out"; do
	kill -0 $lc 2>/dev/null || { cat "$state/err" >&2; exit 1; }
	sleep 0.1
done
echo "node start (launch to Ready and schedulable): $(secs "$began" "$(now)") s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

sleep "$settle"
echo "idle memory (PSS, MiB), ${settle}s after start:"
total=0
for comp in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
	kib=0
	for pid in $(pgrep -f -- "$state/cluster"); do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		[[ ${exe##*/} == "$comp" ]] && kib=$((kib + $(pss_kib "$pid")))
	done
	printf '  %-24s %6.1f\n' "$comp" "$(awk -v k=$kib 'BEGIN { print k / 1024 }')"
	total=$((total + kib))
done
printf '  %-24s %6.1f\n' "all" "$(awk -v k=$total 'BEGIN { print k / 1024 }')"

"${kubectl[@]}" create namespace measure >/dev/null
began=$(now)
"${kubectl[@]}" -n measure apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: one
spec:
  containers:
  - name: origin
    image: ghcr.io/cacheops/demo-origin:v0.1.0
    imagePullPolicy: Never
    args: [--listen=:8080]
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
EOF
"${kubectl[@]}" -n measure wait --for=condition=Ready pod/one --timeout=2m >/dev/null
echo "one pod, create to Ready: $(secs "$began" "$(now)") s"
sleep 5
uid=$("${kubectl[@]}" -n measure get pod one -o jsonpath='{.metadata.uid}')
cg=$(find /sys/fs/cgroup/memory /sys/fs/cgroup -maxdepth 6 -type d -name "pod$uid" 2>/dev/null | head -n1)
charge=$(cat "$cg/memory.usage_in_bytes" 2>/dev/null || cat "$cg/memory.current")
# The shims name their containerd's socket, which is this cluster's alone;
# one shim per pod, and this is the cluster's only pod.
sock=$(sed -n 's/^ *address = "\(.*containerd.sock\)"$/\1/p' "$state/cluster/node/containerd/config.toml")
shim_kib=0
for pid in $(pgrep -f containerd-shim); do
	grep -qa -- "$sock" "/proc/$pid/cmdline" 2>/dev/null || continue
	shim_kib=$((shim_kib + $(pss_kib "$pid")))
done
printf 'one pod memory: cgroup charge %.1f MiB + shim PSS %.1f MiB\n' \
	"$(awk -v b="$charge" 'BEGIN { print b / 1048576 }')" "$(awk -v k=$shim_kib 'BEGIN { print k / 1024 }')"

began=$(now)
kill -TERM $lc
wait $lc || true
echo "stop (SIGTERM to everything removed): $(secs "$began" "$(now)") s"
trap 'rm -rf "$state"' EXIT
