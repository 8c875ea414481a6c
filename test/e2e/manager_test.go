package e2e_test

import (
	"context"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/internal/product"
)

// The operator runs as users run it: the Deployment of config/default, from
// dist/install.yaml, its image (make images) imported on the node, with
// its ServiceAccount, RBAC, leader election, probes and HTTPS metrics.
const (
	operatorNamespace  = product.Namespace
	operatorDeployment = product.Deployment
	operatorLease      = product.Lease
)

// operatorSelector selects the manager's pods (config/manager's labels).
var operatorSelector = client.MatchingLabels(product.Labels)

// e2eManagerArg is the one flag the suite adds to the manager's: a pod call
// timeout short enough that a hung pod costs a spec seconds rather than the
// default 10s per attempt.
const e2eManagerArg = "--pod-call-timeout=3s"

// installManifest is dist/install.yaml as the suite applies it: unchanged
// but for e2eManagerArg.
func installManifest() string {
	GinkgoHelper()
	m, err := product.Manifest(paths.root, e2eManagerArg)
	Expect(err).NotTo(HaveOccurred())
	return m
}

// installProduct installs the product with `kubectl apply -f`, as the
// README tells users, and waits until the manager is Available.
func installProduct(ctx context.Context) {
	GinkgoHelper()
	Expect(product.Install(ctx, kubectl, installManifest())).To(Succeed())
}

// uninstallProduct removes what installProduct installed with `kubectl
// delete -f` and waits until it is gone.
func uninstallProduct(ctx context.Context) {
	GinkgoHelper()
	mustKubectl(ctx, installManifest(), "delete", "--ignore-not-found", "--wait", "--timeout=2m", "-f", "-")
}

// waitOperator waits until the manager's Deployment is rolled out and
// Available (its readiness probe passed).
func waitOperator(ctx context.Context) {
	GinkgoHelper()
	Expect(product.WaitAvailable(ctx, kubectl, operatorNamespace)).To(Succeed())
}

// operatorPods returns the manager's live pods (not being deleted).
func operatorPods(ctx context.Context, g Gomega) []corev1.Pod {
	var pods corev1.PodList
	g.Expect(k8sClient.List(ctx, &pods, client.InNamespace(operatorNamespace), operatorSelector)).To(Succeed())
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp.IsZero() {
			live = append(live, p)
		}
	}
	return live
}

// operatorPod returns the manager's one live pod.
func operatorPod(ctx context.Context, g Gomega) *corev1.Pod {
	live := operatorPods(ctx, g)
	g.Expect(live).To(HaveLen(1), "one manager pod")
	return &live[0]
}

// leaseHolder is the identity of the leader-election Lease's holder: the
// manager pod's name and a per-process suffix.
func leaseHolder(ctx context.Context, g Gomega) string {
	var lease coordinationv1.Lease
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: operatorLease}, &lease)).To(Succeed())
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// operatorLogs is the tail of the manager's log, through `kubectl logs`
// (the current container and, if it restarted, the previous one), for
// failure reports.
func operatorLogs(ctx context.Context, lines int) string {
	tail := "--tail=" + strconv.Itoa(lines)
	var out []string
	if prev, err := kubectl(ctx, "", "logs", "-n", operatorNamespace, "deployment/"+operatorDeployment, "--previous", tail); err == nil {
		out = append(out, "--- previous container ---", prev)
	}
	cur, err := kubectl(ctx, "", "logs", "-n", operatorNamespace, "deployment/"+operatorDeployment, tail)
	if err != nil {
		cur = err.Error()
	}
	return strings.Join(append(out, "--- current container ---", cur), "\n")
}

// startOperator scales the manager's Deployment back to one replica and
// waits until it is Available.
func startOperator(ctx context.Context) {
	GinkgoHelper()
	mustKubectl(ctx, "", "scale", "deployment/"+operatorDeployment, "-n", operatorNamespace, "--replicas=1")
	waitOperator(ctx)
}

// gatewayAddress is the purge gateway's Service (config/default), which
// the host reaches through kube-proxy, once it has a ready endpoint.
func gatewayAddress() string {
	GinkgoHelper()
	return gatewayAddressIn(operatorNamespace)
}

// gatewayAddressIn is gatewayAddress of a manager installed in namespace.
func gatewayAddressIn(namespace string) string {
	GinkgoHelper()
	var addr string
	Eventually(func() (err error) {
		addr, err = cluster.ServiceAddress(namespace, product.GatewayService, product.GatewayPort)
		return err
	}).Should(Succeed())
	return addr
}

// ensureOperator brings the manager back if a spec left it stopped or
// restarting, so the next spec does not fail for it. A spec that
// uninstalled the product puts it back in its own cleanup, which runs
// later.
func ensureOperator(ctx SpecContext) {
	if cluster == nil || k8sClient == nil {
		return
	}
	out, err := kubectl(ctx, "", "get", "deployment", operatorDeployment, "-n", operatorNamespace, "--ignore-not-found", "-o", "name")
	if err != nil || strings.TrimSpace(out) == "" {
		return
	}
	startOperator(ctx)
}

var _ = AfterEach(ensureOperator, NodeTimeout(3*time.Minute))
