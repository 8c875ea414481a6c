// Package demo is the narrated tour behind `make demo`: it shows the whole
// product working for real on one machine, with no cluster and no
// container engine.
//
// Run starts the local cluster of package test/localcluster (a real
// single-node cluster: control plane, kubelet, containerd, kube-proxy; the
// cache pods run the cacheproxy image make images builds), serves the demo
// origin of package test/origin on the host's address as pods see it, and
// runs the operator (bin/manager)
// next to the cluster. It then applies the samples of config/samples with
// kubectl, in the order of their kustomization: the CacheProxy (3 pods),
// then the simple, soft, ban, tags and refetch Purges. For each Purge it
// fills every pod's cache, changes the content at the origin, shows that
// users still get the cached copy, applies the Purge, shows `kubectl get
// purges` and a trimmed `kubectl describe purge` (per-pod status and
// events), and shows what each pod and the Service serve afterwards. When
// the kubectl plugin is built (bin/kubectl-purge), a step purges with
// `kubectl purge edge URL --wait` the same way.
//
// The last step purges after a deploy, with nobody purging (trigger.go):
// in namespace web it runs what the samples assume, the shop's origin as
// Deployment web (testdata/web.yaml: the demo-origin image of make images,
// release v1) behind Service web, the sample CacheProxy in front of it and
// the sample PurgeTrigger; then `kubectl set env deployment/web
// RELEASE=v2` rolls out release v2, and the tour checks that the cache
// keeps serving v1 during the rollout, that the trigger created one Purge,
// once the last new pod was ready, and that every pod then serves v2.
//
// Every claim is checked (a hit is a hit, a new version is newer, the
// Purge's status counts every pod) and marked ✓ or ✗; Run returns
// ErrChecksFailed if any failed. The demo's HTTP requests are made in
// process and shown as the equivalent curl command.
//
// Samples are applied as they are, except where they cannot run here: the
// CacheProxy's origin (http://web.web.svc:8080, a Service of a real
// cluster) becomes the local origin's URL; the changed copy is written
// under the state directory and the narration names the change. The demo
// origin serves every path the Purge samples name.
//
// State and logs go to test/.state/demo (git-ignored): the kubeconfig,
// logs/ (demo.log for the harness, manager.log, origin.log, etcd,
// kube-apiserver, kube-controller-manager) and pods/ (one log per cache
// pod). A second demo on the same state directory is refused.
package demo
