package localcluster

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// HostProcess is a program started next to the cluster rather than in a
// pod, such as the operator (bin/manager): it runs with KUBECONFIG set to
// the cluster's admin kubeconfig, logs to LogPath, and is stopped by
// Cluster.Stop if still running. To restart it, Stop (or Kill) it and start
// it again under the same name; the log file is appended to.
type HostProcess struct {
	name    string
	logPath string
	proc    *process
	cluster *Cluster
}

// StartHostProcess starts path with args, the harness's environment plus
// KUBECONFIG and env ("NAME=value"), output in <StateDir>/logs/<name>.log.
func (c *Cluster) StartHostProcess(name, path string, args []string, env ...string) (*HostProcess, error) {
	h := &HostProcess{name: name, logPath: c.LogPath(name), cluster: c}
	environ := append(os.Environ(), "KUBECONFIG="+c.kubeconfigPath)
	c.hostMu.Lock()
	defer c.hostMu.Unlock()
	if c.hostProcs == nil {
		return nil, errors.New("cluster is stopping")
	}
	p, err := c.spawner.start(processSpec{
		Path:    path,
		Args:    args,
		Env:     append(environ, env...),
		LogPath: h.logPath,
	})
	if err != nil {
		return nil, fmt.Errorf("starting host process %s: %w", name, err)
	}
	h.proc = p
	c.hostProcs[h] = struct{}{}
	c.log.Info("Host process started", "name", name, "pid", p.PID(), "log", h.logPath)
	return h, nil
}

// PID is the process id.
func (h *HostProcess) PID() int { return h.proc.PID() }

// LogPath is the file the process writes stdout and stderr to.
func (h *HostProcess) LogPath() string { return h.logPath }

// Done is closed when the process has exited.
func (h *HostProcess) Done() <-chan struct{} { return h.proc.Done() }

// ExitCode is the exit code once Done is closed (-1 if killed by a
// signal).
func (h *HostProcess) ExitCode() int { return h.proc.ExitState().ExitCode() }

// Stop sends SIGTERM, waits up to Options.StopGracePeriod, then kills the
// process group; it returns once the process has exited.
func (h *HostProcess) Stop() {
	h.proc.stop(h.cluster.opts.StopGracePeriod)
	h.forget()
}

// Kill sends SIGKILL to the process group, as a crash, and waits for the
// exit.
func (h *HostProcess) Kill() {
	_ = h.proc.signalGroup(syscall.SIGKILL)
	<-h.proc.Done()
	h.forget()
}

func (h *HostProcess) forget() {
	h.cluster.hostMu.Lock()
	defer h.cluster.hostMu.Unlock()
	delete(h.cluster.hostProcs, h)
}

// stopHostProcesses stops every host process still running and refuses new
// ones.
func (c *Cluster) stopHostProcesses() {
	c.hostMu.Lock()
	procs := c.hostProcs
	c.hostProcs = nil
	c.hostMu.Unlock()
	for h := range procs {
		h.proc.stop(c.opts.StopGracePeriod)
	}
}
