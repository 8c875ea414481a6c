package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/test/internal/procs"
)

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, want := range []string{"make demo", "-exit", "-state-dir", "-bin-dir", "-clean", "-plain", "-no-tour", "Ctrl-C"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help does not mention %q:\n%s", want, stderr.String())
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q exited %d, want 2", args, code)
		}
	}
}

func TestMissingBinaries(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--bin-dir", t.TempDir(), "--state-dir", t.TempDir(), "--exit"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "manager") || !strings.Contains(stderr.String(), "make demo") {
		t.Fatalf("exit %d, stderr %q: want 1 and a message naming the missing binaries and make demo", code, stderr.String())
	}
}

// The demo program, built once for the tests that run it.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func demoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "demo-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "demo")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// demoProcess is the demo program running in the background.
type demoProcess struct {
	cmd    *exec.Cmd
	binDir string
	lines  chan string // stdout, line by line; closed at EOF
	seen   []string
	done   chan error    // cmd.Wait's result
	exited chan struct{} // closed once cmd.Wait returned: stderr is complete
}

// startDemo builds the program and starts it on a fresh state directory.
func startDemo(t *testing.T, args ...string) (*demoProcess, string) {
	t.Helper()
	binDir := os.Getenv("BIN_DIR")
	if binDir == "" {
		binDir = filepath.Join("..", "..", "..", "bin")
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"images/manager.tar", "images/cacheproxy.tar", "k8s/kube-apiserver", "k8s/kubectl"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			t.Fatalf("%s is missing: run `make test` (or `make envtest images`) first, which builds it", filepath.Join(binDir, name))
		}
	}
	bin := demoBinary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, append([]string{"--bin-dir", binDir, "--state-dir", state}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &demoProcess{cmd: cmd, binDir: binDir, lines: make(chan string, 1000), done: make(chan error, 1), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.done <- cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for line := range d.lines {
			d.seen = append(d.seen, line)
		}
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("the demo's output was still open 30s after it was killed")
			return // stderr is still being written: not safe to read
		}
		if t.Failed() {
			t.Logf("demo output:\n%s\nstderr:\n%s", strings.Join(d.seen, "\n"), stderr.String())
		}
	})
	return d, state
}

// waitFor reads the output until a line contains s, and returns it.
func (d *demoProcess) waitFor(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("the demo ended before printing %q", s)
			}
			d.seen = append(d.seen, line)
			if strings.Contains(line, s) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q within %s", s, timeout)
		}
	}
}

// interrupt sends SIGINT (Ctrl-C), reads the rest of the output and returns
// the exit status.
func (d *demoProcess) interrupt(t *testing.T) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for line := range d.lines {
		d.seen = append(d.seen, line)
	}
	select {
	case err := <-d.done:
		if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("waiting for the demo: %v", err)
		}
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after SIGINT")
		return -1
	}
}

// children are the demo's child processes, etcd and kube-apiserver among
// them, by pid and command line.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, p := range procs.Of(pid) {
		if p.PPID == pid {
			out[p.PID] = p.Cmdline
		}
	}
	return out
}

// assertGone checks that none of running still runs, and that no process
// names the state directory in its command line, environment or working
// directory (the operator, kube-controller-manager, the cache pods).
func assertGone(t *testing.T, running map[int]string, state string) {
	t.Helper()
	for pid, cmdline := range running {
		if p, ok := procs.Get(pid); ok && p.Cmdline == cmdline {
			t.Errorf("still running: %s", p)
		}
	}
	for _, p := range procs.Of(-1, state) {
		t.Errorf("still running: %s", p)
	}
}

// TestKeepsRunningUntilInterrupted runs the demo as `make demo` does (but
// for the Purges of the tour): it prints how to reach the cluster; a user
// applies a Purge with kubectl; Ctrl-C stops everything and the exit
// status says every check passed.
func TestKeepsRunningUntilInterrupted(t *testing.T) {
	d, state := startDemo(t, "--no-tour") // the tour itself is package demo's TestTour
	kubectlPath := d.binDir + "/k8s/kubectl"
	d.waitFor(t, "checks passed", 3*time.Minute)
	kubeconfig := strings.TrimPrefix(strings.TrimSpace(d.waitFor(t, "$ export KUBECONFIG=", 10*time.Second)), "$ export KUBECONFIG=")
	d.waitFor(t, "Press Ctrl-C", 10*time.Second)
	procs := children(t, d.cmd.Process.Pid)
	if len(procs) < 2 {
		t.Fatalf("want etcd and kube-apiserver among the demo's children, found %v", procs)
	}
	env, err := os.ReadFile(filepath.Join(state, "demo.env"))
	if err != nil || !strings.Contains(string(env), "export KUBECONFIG="+kubeconfig) {
		t.Fatalf("demo.env: %v %q", err, env)
	}

	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlPath, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The Purge file the hand-over tells the user to apply.
	kubectl("", "apply", "-f", filepath.Join(state, "my-purge.yaml"))
	kubectl("", "wait", "--for=condition=Complete", "purge/my-purge", "--timeout=60s")
	if out := kubectl("", "get", "purge", "my-purge", "-o", "jsonpath={.status.progress}"); out != "3/3" {
		t.Errorf("my-purge progress %q, want 3/3", out)
	}

	if code := d.interrupt(t); code != 0 {
		t.Errorf("exit status %d after Ctrl-C, want 0", code)
	}
	if !strings.Contains(strings.Join(d.seen, "\n"), "✓ everything stopped") {
		t.Error("no word that everything stopped")
	}
	assertGone(t, procs, state)
	if _, err := os.Stat(filepath.Join(state, "demo.env")); !os.IsNotExist(err) {
		t.Errorf("demo.env left behind: %v", err)
	}
}

// TestInterruptedTour: Ctrl-C during the tour stops everything and exits
// non-zero.
func TestInterruptedTour(t *testing.T) {
	d, state := startDemo(t, "--exit")
	d.waitFor(t, "] Simple purge", 3*time.Minute)
	procs := children(t, d.cmd.Process.Pid)
	if code := d.interrupt(t); code != 130 {
		t.Errorf("exit status %d after Ctrl-C during the tour, want 130", code)
	}
	if !strings.Contains(strings.Join(d.seen, "\n"), "✓ everything stopped") {
		t.Error("no word that everything stopped")
	}
	assertGone(t, procs, state)
}
