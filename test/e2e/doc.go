// Package e2e is the end-to-end suite: the whole product, built binaries
// and all, on a real (local) Kubernetes cluster, driven the way a user
// drives it.
//
// What runs: test/localcluster (a real single-node cluster: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, the kubelet with
// containerd and runc, kube-proxy; the cache pods run the cacheproxy image
// of make images), the CRDs installed with `kubectl apply --server-side -k
// config/crd`, bin/manager as a separate process next to the cluster, and,
// for each spec, its own demo origin (test/origin) on a free port of the
// host's address as pods see it (Cluster.HostIP), in the test process.
//
// What a user does goes through the real kubectl binary: apply a CacheProxy
// (config/samples' CacheProxy with the origin URL replaced), `kubectl wait
// --for=condition=Available`, apply Purges from YAML, `kubectl wait
// --for=condition=Complete`, `kubectl get`, `kubectl describe`, `kubectl
// scale`, `kubectl delete`. Clients reach the cache through the public
// Service address (its ClusterIP, routed to the node); to check "every pod"
// the specs also address each pod's IP on port 8080 directly, since the
// Service spreads connections over the pods. Status is read back with a client where
// kubectl's output is too coarse for a precise assertion.
//
// Each spec works in a namespace of its own with a fleet named "edge" and
// an origin of its own, so specs are independent and their origin version
// counters start at zero. The cluster and the operator are shared. The
// PurgeTrigger specs (trigger_test.go) run their origin in the cluster
// instead, as Deployment "web" of the demo-origin image, since its
// rollouts are what a trigger follows.
//
// Run it with `make test-e2e` (or `make test`, which runs every suite). It
// needs root, bin/k8s (`make envtest`), bin/manager and bin/cacheproxy
// (`make build`) and bin/images (`make images`): KUBEBUILDER_ASSETS and BIN_DIR name them, relative paths being
// taken from the repository root; unset, they default to bin/k8s and bin.
// `go test -short` skips the suite. Each run keeps its state (kubeconfig,
// every log) in a new directory test/.state/e2e-*, removed when the suite
// passes and kept, with its path printed, when it fails. Nothing listens on
// a fixed port: the cluster takes a free slot of the machine, the
// origins and the operator's probe and metrics servers bind port 0 or not
// at all, so runs on one machine do not collide.
package e2e
