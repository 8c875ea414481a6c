// Package demo is the narrated tour behind `make demo`: it shows the whole
// product working for real on one machine, installed and run as users
// run it, with no Docker and no registry.
//
// Run starts the local cluster of package test/localcluster (a real
// single-node cluster: control plane, kubelet, containerd and runc,
// kube-proxy, CoreDNS; the images make images builds imported on the
// node), serves the demo origin of package test/origin on the host's
// address as pods see it, and installs the operator as a user does:
// `kubectl apply --server-side -f dist/install.yaml`, whose Deployment runs
// the manager image in a pod of its own. It then applies the samples of
// config/samples with kubectl, in the order of their kustomization: the
// CacheProxy (3 pods running the cacheproxy image; `kubectl get pods -A`
// shows them beside the operator and CoreDNS), then the simple, soft,
// ban, tags and refetch Purges. For each Purge it
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
// Purge's status counts every pod, the operator's container never
// restarted) and marked ✓ or ✗; Run returns
// ErrChecksFailed if any failed. The demo's HTTP requests are made in
// process and shown as the equivalent curl command.
//
// Samples are applied as they are, except where the tour needs more than
// they give: in the steps before the deploy step the CacheProxy's origin
// (http://web.web.svc:8080) becomes the demo origin on the host, whose
// content the tour changes between requests; the changed copy is written
// under the state directory and the narration names the change. The demo
// origin serves every path the Purge samples name. The deploy step
// applies the sample unchanged: CoreDNS resolves web.web.svc.
//
// State and logs go to test/.state/demo (git-ignored): the kubeconfig,
// logs/ (demo.log for the harness, origin.log, the cluster's components,
// and manager.log, the operator's log saved with kubectl logs when the
// demo stops) and node/pod-logs/ (every pod's log, as the kubelet writes
// it). A second demo on the same state directory is refused.
package demo
