package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cacheops/purge-operator/test/internal/product"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// The operator in the fleet benchmark runs as users run it: the Deployment
// of dist/install.yaml, applied with kubectl (package product, as the demo
// and the end-to-end suite install it), its pod running the manager image
// of make images. Its metrics are read as a monitoring system reads them:
// over HTTPS from the pod, with a ServiceAccount token bound to the
// metrics-reader ClusterRole.

// installOperator installs the product from dist/install.yaml of repoDir
// and waits until the manager is Available.
func installOperator(ctx context.Context, cluster *localcluster.Cluster, repoDir string) error {
	manifest, err := product.Manifest(repoDir)
	if err != nil {
		return err
	}
	return product.Install(ctx, kubectlOn(cluster), manifest)
}

// kubectlOn runs the cluster's kubectl.
func kubectlOn(cluster *localcluster.Cluster) product.Kubectl {
	return func(ctx context.Context, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cluster.KubectlPath(), append([]string{"--kubeconfig", cluster.KubeconfigPath()}, args...)...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}
}

// metricsScraper is the ServiceAccount (in fleetNamespace) whose token
// reads the manager's metrics.
const metricsScraper = "metrics-scraper"

// managerMetrics is how the benchmark reads the manager's metrics.
type managerMetrics struct {
	url, token string
	client     *http.Client
}

// newManagerMetrics gives metricsScraper the metrics-reader role, requests
// its token, and waits until the manager's pod answers a scrape with it.
func newManagerMetrics(ctx context.Context, c client.Client) (*managerMetrics, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: metricsScraper}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + metricsScraper},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: product.MetricsReaderRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: fleetNamespace, Name: metricsScraper}}}
	for _, o := range []client.Object{sa, binding} {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)}}
	if err := c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return nil, fmt.Errorf("requesting the scraper's token: %w", err)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(product.Namespace), client.MatchingLabels(product.Labels)); err != nil {
		return nil, fmt.Errorf("listing the manager's pods: %w", err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		return nil, fmt.Errorf("%d manager pods, want one with an IP", len(pods.Items))
	}
	m := &managerMetrics{
		url:   "https://" + net.JoinHostPort(pods.Items[0].Status.PodIP, strconv.Itoa(product.MetricsPort)) + "/metrics",
		token: tr.Status.Token,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed serving certificate
		}},
	}
	// The API server's authorizer learns of the new binding shortly after
	// it is created; a 403 the manager got before that, it keeps for 30 s
	// (controller-runtime's authorization cache of denials).
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := m.scrape(ctx)
		if err == nil {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("reading the manager's metrics: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// get reads the metrics page.
func (m *managerMetrics) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", m.url, resp.Status)
	}
	return resp, nil
}
