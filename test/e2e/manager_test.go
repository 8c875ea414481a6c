package e2e_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// managerArgs run the operator as the suite needs it: no probe or metrics
// listener (nothing on a fixed port), and a pod call timeout short enough
// that a hung pod costs a spec seconds rather than the default 10s per
// attempt. The cacheproxy image stays the default, which make images
// builds; the proxies listen on every interface of their pod, as in
// production, so kubectl port-forward reaches them. The purge gateway
// listens on a free loopback port of the host (gatewayAddress).
// It runs as the ServiceAccount config/rbac sets up, with leader election
// in its namespace, as `make deploy` runs it.
func managerArgs() []string {
	return []string{
		"--kubeconfig=" + managerKubeconfig,
		"--leader-elect",
		"--leader-election-namespace=" + operatorNamespace,
		"--health-probe-bind-address=0",
		"--metrics-bind-address=0",
		"--pod-call-timeout=3s",
		"--gateway-bind-address=" + gatewayAddress(),
	}
}

// gatewayAddr is where the manager serves the purge gateway: a free
// loopback port chosen once, so a restarted manager serves it there too.
var gatewayAddr string

func gatewayAddress() string {
	GinkgoHelper()
	if gatewayAddr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		gatewayAddr = ln.Addr().String()
		Expect(ln.Close()).To(Succeed())
	}
	return gatewayAddr
}

// operatorNamespace and operatorServiceAccount are where config/default
// puts the manager.
const (
	operatorNamespace      = "purge-operator-system"
	operatorServiceAccount = "purge-operator-controller-manager"
)

// managerKubeconfig authenticates as operatorServiceAccount.
var managerKubeconfig string

// serviceAccountKubeconfig writes a kubeconfig for the cluster whose user
// is the operator's ServiceAccount, with a token from the TokenRequest API.
func serviceAccountKubeconfig(ctx context.Context, dir string) string {
	GinkgoHelper()
	token := strings.TrimSpace(mustKubectl(ctx, "", "create", "token", operatorServiceAccount,
		"-n", operatorNamespace, "--duration=2h"))
	cfg, err := clientcmd.LoadFromFile(cluster.KubeconfigPath())
	Expect(err).NotTo(HaveOccurred())
	for _, c := range cfg.Contexts {
		c.AuthInfo = operatorServiceAccount
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{operatorServiceAccount: {Token: token}}
	path := filepath.Join(dir, "manager.kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	return path
}

// withoutDeployments drops the Deployments from a multi-document manifest.
func withoutDeployments(manifest string) string {
	var kept []string
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if !strings.Contains(doc, "\nkind: Deployment\n") && !strings.HasPrefix(doc, "kind: Deployment\n") {
			kept = append(kept, doc)
		}
	}
	return strings.Join(kept, "\n---\n")
}

// manager is the operator process running next to the cluster.
type manager struct {
	proc *localcluster.HostProcess
}

func startManager() *manager {
	GinkgoHelper()
	p, err := cluster.StartHostProcess("manager", paths.manager, managerArgs())
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("manager started (pid %d), log in %s\n", p.PID(), p.LogPath())
	return &manager{proc: p}
}

func (m *manager) logPath() string { return m.proc.LogPath() }

// running reports whether the process has not exited.
func (m *manager) running() bool {
	select {
	case <-m.proc.Done():
		return false
	default:
		return true
	}
}

// kill crashes the operator (SIGKILL): no clean shutdown, no last status
// write.
func (m *manager) kill() { m.proc.Kill() }

func (m *manager) stop() { m.proc.Stop() }

// ensureOperator restarts the operator if a spec left it dead, so the next
// spec does not fail for it.
func ensureOperator() {
	if operator == nil || operator.running() {
		return
	}
	GinkgoWriter.Printf("manager had exited (code %d); starting it again\n", operator.proc.ExitCode())
	operator = startManager()
}

var _ = AfterEach(ensureOperator)
