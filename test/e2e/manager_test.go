package e2e_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cacheops/purge-operator/test/localcluster"
)

// managerArgs run the operator as the suite needs it: no probe or metrics
// listener (nothing on a fixed port), and a pod call timeout short enough
// that a hung pod costs a spec seconds rather than the default 10s per
// attempt. The cacheproxy image stays the default, which the cluster maps
// to bin/cacheproxy.
var managerArgs = []string{
	"--health-probe-bind-address=0",
	"--metrics-bind-address=0",
	"--pod-call-timeout=3s",
}

// manager is the operator process running next to the cluster.
type manager struct {
	proc *localcluster.HostProcess
}

func startManager() *manager {
	GinkgoHelper()
	p, err := cluster.StartHostProcess("manager", paths.manager, managerArgs)
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
