package e2e_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/kubectl/pkg/util/podutils"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/internal/product"
)

// The suite installs the product with dist/install.yaml before any spec.
// These specs check what that installed (the manager as a Deployment, its
// metrics), then uninstall it, install and uninstall the Helm chart
// dist/chart, and put dist/install.yaml back: each uninstall must leave
// nothing of the product's behind.
var _ = Describe("The installed product", func() {
	It("runs the manager as a restricted pod of its Deployment, serving metrics over HTTPS to authorised clients only", func(ctx SpecContext) {
		pod := operatorPod(ctx, Default)
		Expect(podutils.IsPodReady(pod)).To(BeTrue())
		Expect(pod.Spec.ServiceAccountName).To(Equal("purge-operator-controller-manager"))
		Expect(pod.Spec.Containers[0].Image).To(Equal("ghcr.io/cacheops/purge-operator:v0.1.0"), "the image make images built")
		// Ready is not leading: /readyz answers as soon as the manager
		// serves probes, and it takes the Lease a moment later.
		Eventually(func(g Gomega) string { return leaseHolder(ctx, g) }).WithContext(ctx).
			Should(HavePrefix(pod.Name+"_"), "it leads")
		// The restricted Pod Security level (the namespace enforces it) is
		// applied by the container runtime: not root, no capabilities,
		// seccomp filtering.
		procs, err := cluster.PodProcesses(operatorNamespace, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		status := procStatus(procs["manager"])
		Expect(status).To(HaveKeyWithValue("Uid", HavePrefix("65532\t")))
		Expect(status).To(HaveKeyWithValue("CapEff", "0000000000000000"))
		Expect(status).To(HaveKeyWithValue("Seccomp", "2"))
		Expect(status).To(HaveKeyWithValue("NoNewPrivs", "1"))

		metrics := "https://" + net.JoinHostPort(pod.Status.PodIP, "8443") + "/metrics"
		Expect(getMetrics(ctx, metrics, "")).To(Equal(http.StatusUnauthorized), "no token")
		mustKubectl(ctx, "", "create", "namespace", "metrics-e2e")
		createdNamespaces = append(createdNamespaces, "metrics-e2e")
		DeferCleanup(func(ctx SpecContext) {
			mustKubectl(ctx, "", "delete", "namespace", "metrics-e2e", "--wait=false")
			mustKubectl(ctx, "", "delete", "clusterrolebinding", "metrics-e2e", "--ignore-not-found")
		}, NodeTimeout(time.Minute))
		mustKubectl(ctx, "", "create", "serviceaccount", "scraper", "-n", "metrics-e2e")
		token := strings.TrimSpace(mustKubectl(ctx, "", "create", "token", "scraper", "-n", "metrics-e2e"))
		Expect(getMetrics(ctx, metrics, token)).To(Equal(http.StatusForbidden), "a token without the metrics-reader role")
		mustKubectl(ctx, "", "create", "clusterrolebinding", "metrics-e2e",
			"--clusterrole=purge-operator-metrics-reader", "--serviceaccount=metrics-e2e:scraper")
		Eventually(func() int { return getMetrics(ctx, metrics, token) }).WithContext(ctx).
			Should(Equal(http.StatusOK), "bound to purge-operator-metrics-reader")
	})

	It("uninstalls cleanly with kubectl delete -f dist/install.yaml and with helm uninstall, and the Helm chart works in a namespace of the user's choice", Label("install"), func(ctx SpecContext) {
		// Put the suite's installation back whatever happens here.
		DeferCleanup(func(ctx SpecContext) {
			if helmReleased(ctx) {
				_, _ = helm(ctx, "uninstall", "purge-operator", "-n", helmNamespace, "--wait", "--timeout=2m")
			}
			installProduct(ctx)
		}, NodeTimeout(4*time.Minute))

		began := time.Now()
		uninstallProduct(ctx)
		Expect(productLeftovers(ctx, operatorNamespace)).To(BeEmpty(), "kubectl delete -f dist/install.yaml left these")
		AddReportEntry("kubectl delete -f dist/install.yaml", time.Since(began).Round(time.Millisecond).String())

		began = time.Now()
		chart := filepath.Join(paths.root, "dist", "chart")
		Expect(helm(ctx, "install", "purge-operator", chart, "-n", helmNamespace, "--create-namespace", "--wait", "--timeout=2m")).
			To(ContainSubstring("STATUS: deployed"))
		Expect(product.WaitAvailable(ctx, kubectl, helmNamespace)).To(Succeed())
		AddReportEntry("helm install to manager Available", time.Since(began).Round(time.Millisecond).String())

		// The manager the chart installed works: a Purge of a fleet
		// completes.
		f := newFleet(ctx, "helm", 1)
		warm(ctx, f.pods, "/products/1", "/products/2")
		f.apply(ctx, purgeFile("helm-purge", []string{"/products/1"}))
		expectAllSucceeded(f.waitPurge(ctx, "helm-purge", cachev1alpha1.PurgeConditionComplete), f.pods)
		// What names the release's namespace works too: the CacheProxy's
		// purge Service points at the gateway there, and the gateway's
		// Purge, whose requested-by only the manager's ServiceAccount may
		// write (the admission policy names it), is admitted.
		f.mustKubectl(ctx, "", "patch", "cacheproxy", "edge", "--type=merge", "-p", `{"spec":{"purgeGateway":{"enabled":true}}}`)
		Eventually(func() (string, error) {
			return f.kubectl(ctx, "", "get", "service", "edge-purge", "-o", "jsonpath={.spec.externalName}")
		}).WithContext(ctx).Should(Equal(product.GatewayService + "." + helmNamespace + ".svc.cluster.local"))
		token := purgerToken(ctx, f, "cms", true)
		a := callGatewayAt(ctx, gatewayAddressIn(helmNamespace), "POST", "/service/helm.edge/purge/product-2", "",
			map[string]string{"Fastly-Key": token, headerPurgeWait: "60s"}, "")
		Expect(a.status).To(Equal(http.StatusOK), a.body)
		Expect(a.header.Get("X-Purge-Complete")).To(Equal("true"), a.body)
		p := f.waitPurge(ctx, a.header.Get("X-Purge-Name"), cachev1alpha1.PurgeConditionComplete)
		Expect(p.Annotations).To(HaveKeyWithValue(cachev1alpha1.AnnotationRequestedBy, "system:serviceaccount:helm:cms"))
		mustKubectl(ctx, "", "delete", "namespace", f.ns, "--wait", "--timeout=2m")

		began = time.Now()
		Expect(helm(ctx, "uninstall", "purge-operator", "-n", helmNamespace, "--wait", "--timeout=2m")).
			To(ContainSubstring(`release "purge-operator" uninstalled`))
		// Helm never deletes a chart's crds/ (that would delete every
		// CacheProxy and Purge of the cluster) nor the namespace
		// --create-namespace made, with the leader-election Lease the
		// manager wrote in it: the README's uninstall says to delete both,
		// which leaves nothing. The manager's pod goes with its ReplicaSet,
		// which the garbage collector deletes after Helm returns.
		Eventually(func() []string { return productLeftovers(ctx, helmNamespace) }).WithContext(ctx).Should(ConsistOf(
			"customresourcedefinition.apiextensions.k8s.io/cacheproxies.cache.cacheops.io",
			"customresourcedefinition.apiextensions.k8s.io/purges.cache.cacheops.io",
			"customresourcedefinition.apiextensions.k8s.io/purgetriggers.cache.cacheops.io",
			"namespace/"+helmNamespace,
			"lease.coordination.k8s.io/"+operatorLease+" in "+helmNamespace,
		), "helm uninstall left more than the CRDs, the namespace and the manager's Lease")
		mustKubectl(ctx, "", "delete", "-f", filepath.Join(chart, "crds", "crds.yaml"), "--wait", "--timeout=2m")
		mustKubectl(ctx, "", "delete", "namespace", helmNamespace, "--wait", "--timeout=2m")
		Expect(productLeftovers(ctx, helmNamespace)).To(BeEmpty(), "the chart's uninstall left these")
		AddReportEntry("helm uninstall and the CRDs and namespace deleted", time.Since(began).Round(time.Millisecond).String())
	})
})

// helmNamespace is where the Helm spec installs the chart: not
// config/default's namespace, as a user may choose.
const helmNamespace = "purge-operator-helm"

// productLeftovers lists the product's objects in the cluster: its CRDs,
// its namespace (namespace) and anything in it, its cluster-wide RBAC and
// admission policy.
func productLeftovers(ctx context.Context, namespace string) []string {
	GinkgoHelper()
	var left []string
	out := mustKubectl(ctx, "", "get", "customresourcedefinitions,clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings,namespaces", "-o", "name")
	for _, name := range strings.Fields(out) {
		if strings.Contains(name, "cacheops.io") || strings.Contains(name, "purge-operator") {
			left = append(left, name)
		}
	}
	// Anything in the namespace, the Lease and Events the manager made
	// included (an empty answer when it is gone).
	out = mustKubectl(ctx, "", "get", "all,leases,secrets,configmaps,serviceaccounts,roles,rolebindings", "-n", namespace,
		"--ignore-not-found", "-o", "name")
	for _, name := range strings.Fields(out) {
		// What every namespace gets from Kubernetes itself.
		if name != "serviceaccount/default" && name != "configmap/kube-root-ca.crt" {
			left = append(left, name+" in "+namespace)
		}
	}
	sort.Strings(left)
	return left
}

// helm runs bin/helm against the cluster, its caches and configuration in
// the state directory, and returns its standard output.
func helm(ctx context.Context, args ...string) (string, error) {
	home := filepath.Join(cluster.StateDir(), "helm")
	cmd := exec.CommandContext(ctx, paths.helm, append([]string{"--kubeconfig", cluster.KubeconfigPath()}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ helm %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// helmReleased reports whether the release purge-operator is installed.
func helmReleased(ctx context.Context) bool {
	out, err := helm(ctx, "list", "-n", helmNamespace, "-q")
	return err == nil && strings.Contains(out, "purge-operator")
}

// getMetrics GETs the manager's metrics endpoint with the bearer token (if
// any) and returns the status. The serving certificate is the manager's
// own self-signed one.
func getMetrics(ctx context.Context, url, token string) int {
	GinkgoHelper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed serving certificate
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		Expect(string(body)).To(ContainSubstring("controller_runtime_reconcile_total"))
	}
	return resp.StatusCode
}

// procStatus is /proc/<pid>/status as a map.
func procStatus(pid int) map[string]string {
	GinkgoHelper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}
