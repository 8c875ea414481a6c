package dashboard_test

import (
	"context"
	"net"
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/prometheus/client_golang/prometheus"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/cli"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/controllers/purge"
	"github.com/cacheops/purge-operator/test/envtestenv"
)

// The dashboard runs as `kubectl purge dashboard` does (cli.Main, in
// process) against a real kube-apiserver and etcd (envtest) with the
// operator's controllers running, and is driven by a real headless
// Chromium through the DevTools protocol (chromedp). envtest has no
// kubelet: the specs create a CacheProxy's pods themselves and serve each
// with a real cacheproxy (fleet_test.go), on a non-loopback address of
// this machine, because the API server's pod proxy (the Fleets page's
// statistics) refuses loopback pod IPs.

var (
	env       *envtestenv.Env
	cfg       *rest.Config
	k8sClient client.Client
	// adminKubeconfig is a kubeconfig file of a cluster administrator.
	adminKubeconfig string
	// stopManager stops the operator's controllers and waits until it has.
	stopManager func()
)

func TestDashboard(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl purge dashboard suite")
}

var _ = BeforeSuite(func() {
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	env = envtestenv.Start(envtestenv.Options{})
	cfg, k8sClient = env.Config, env.Client
	adminKubeconfig = env.Kubeconfig(envtest.User{Name: "admin", Groups: []string{"system:masters"}})
	stopManager = startManager()
})

var _ = AfterSuite(func() {
	stopBrowser()
	if stopManager != nil {
		stopManager()
	}
})

// startManager runs the operator's controllers as cmd/manager wires them
// (controllers.Setup, the same label-scoped cache), with short retry
// delays.
func startManager() (stop func()) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		CacheProxyImage:  "ghcr.io/cacheops/cacheproxy:test",
		Caller:           purge.NewAdminCaller(64),
		CallTimeout:      3 * time.Second,
		Backoff:          purge.Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		ProgressInterval: 100 * time.Millisecond,
		PurgeWorkers:     4,
		Registerer:       prometheus.NewRegistry(),
	})).To(Succeed())
	return envtestenv.StartManager(mgr)
}

// newNamespace creates a namespace for one spec.
func newNamespace() string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "dashboard-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}

// grant gives user a Role in ns with rules, and returns a kubeconfig.
func grant(ns, user string, rules ...rbacv1.PolicyRule) string {
	GinkgoHelper()
	ctx := context.Background()
	Expect(k8sClient.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user}, Rules: rules})).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})).To(Succeed())
	Expect(rules).NotTo(BeEmpty())
	first := rules[0]
	envtestenv.AwaitAllowed(ctx, k8sClient, user, authzv1.ResourceAttributes{
		Namespace: ns, Verb: first.Verbs[0], Group: first.APIGroups[0], Resource: first.Resources[0]})
	return env.Kubeconfig(envtest.User{Name: user})
}

// runningDashboard is a running `kubectl purge dashboard`.
type runningDashboard struct {
	url  string
	host string // ADDRESS:PORT
}

var dashboardLine = regexp.MustCompile(`^Dashboard: (http://([^/]+)/)\n`)

// startDashboard runs `kubectl purge dashboard --no-browser` with a
// kubeconfig on namespace ns until the spec ends, and returns its address
// from the first line it prints.
func startDashboard(kubeconfig, ns string, args ...string) *runningDashboard {
	GinkgoHelper()
	out, errOut := gbytes.NewBuffer(), gbytes.NewBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		defer GinkgoRecover()
		env := cli.Env{IOStreams: genericiooptions.IOStreams{In: gbytes.NewBuffer(), Out: out, ErrOut: errOut},
			OpenBrowser: func(string) error { panic("--no-browser opened a browser") }}
		code <- cli.Main(ctx, env, append([]string{"dashboard", "--no-browser", "--kubeconfig", kubeconfig, "-n", ns}, args...))
	}()
	DeferCleanup(func() {
		cancel()
		Eventually(code).Should(Receive(Equal(cli.ExitOK)), "the dashboard stops on Ctrl-C with status 0; stderr: %s", errOut.Contents())
	})
	Eventually(out).Should(gbytes.Say(`Dashboard: http://\S+/\n`))
	m := dashboardLine.FindStringSubmatch(string(out.Contents()))
	Expect(m).NotTo(BeNil(), "the first line of stdout is the address: %q", out.Contents())
	return &runningDashboard{url: m[1], host: m[2]}
}

// hostIP is an address of this machine that is not loopback, for the pods'
// proxies; "" if there is none.
func hostIP() string {
	addrs, err := net.InterfaceAddrs()
	Expect(err).NotTo(HaveOccurred())
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() && !ipnet.IP.IsLinkLocalUnicast() {
			return ipnet.IP.String()
		}
	}
	return ""
}
