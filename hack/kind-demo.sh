#!/usr/bin/env bash
# kind-demo.sh (make kind-demo): the product on a kind cluster, for users with
# Docker and kind rather than a Linux machine they are root on. It loads the
# images make images built with `kind load image-archive` (no registry),
# installs dist/install.yaml, runs the demo origin as the Service web.web
# (the URL config/samples points at), applies the sample CacheProxy and a
# simple Purge, and waits for the Purge to complete on every pod.
#
# UNTESTED: the machines this project is built on have neither Docker nor
# kind, so this script has never run. The narrated tour of make demo (its
# checks on each pod) runs only on the local cluster.
#
#   KIND_CLUSTER   cluster name (default purge-operator-demo); created if absent
#   IMAGES_DIR     the archives of make images (default bin/images)
#   DEMO_ORIGIN_IMG  the demo origin's image name (as make images tagged it)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cluster=${KIND_CLUSTER:-purge-operator-demo}
images=${IMAGES_DIR:-$root/bin/images}
origin_img=${DEMO_ORIGIN_IMG:-ghcr.io/cacheops/demo-origin:v0.1.0}

for tool in docker kind kubectl; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "kind-demo.sh: $tool not found; make kind-demo needs Docker, kind and kubectl (make demo needs none of them, but Linux and root)" >&2
		exit 1
	}
done
if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
	kind create cluster --name "$cluster" --wait 2m
fi
ctx=(--context "kind-$cluster")

for image in manager cacheproxy demo-origin; do
	kind load image-archive "$images/$image.tar" --name "$cluster"
done

kubectl "${ctx[@]}" apply --server-side -f "$root/dist/install.yaml"
kubectl "${ctx[@]}" -n purge-operator-system rollout status deployment --timeout=3m

kubectl "${ctx[@]}" create namespace web --dry-run=client -o yaml | kubectl "${ctx[@]}" apply -f -
kubectl "${ctx[@]}" -n web apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: origin
        image: $origin_img
        args: [--listen=:8080]
        ports: [{containerPort: 8080}]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080}]
EOF
kubectl "${ctx[@]}" -n web rollout status deployment/web --timeout=2m

kubectl "${ctx[@]}" -n web apply -f "$root/config/samples/cache_v1alpha1_cacheproxy.yaml"
kubectl "${ctx[@]}" -n web wait --for=condition=Available cacheproxy/edge --timeout=3m
kubectl "${ctx[@]}" -n web apply -f "$root/config/samples/cache_v1alpha1_purge_simple.yaml"
kubectl "${ctx[@]}" -n web wait --for=condition=Complete purge/app-js --timeout=2m
kubectl "${ctx[@]}" get pods -A
kubectl "${ctx[@]}" -n web get cacheproxies,purges

cat <<EOF

The product runs on kind cluster $cluster. Try:
  kubectl --context kind-$cluster -n web describe purge app-js
  kubectl --context kind-$cluster -n web apply -f config/samples/cache_v1alpha1_purge_ban.yaml
Remove it all with: kind delete cluster --name $cluster
EOF
