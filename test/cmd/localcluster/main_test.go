package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imagesDir is where make images puts the image archives.
func imagesDir(t *testing.T) string {
	if dir := os.Getenv("IMAGES_DIR"); dir != "" {
		return dir
	}
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "bin", "images"))
	if _, err := os.Stat(filepath.Join(dir, "pause.tar")); err != nil {
		t.Fatalf("the images are missing from %s: run `make images`", dir)
	}
	return dir
}

// TestRunsUntilSignalled builds the program, starts it, reads the
// KUBECONFIG line it prints when ready, uses the env file, and checks
// SIGTERM stops everything.
func TestRunsUntilSignalled(t *testing.T) {
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		binDir, _ = filepath.Abs(filepath.Join("..", "..", "..", "bin", "k8s"))
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err != nil {
		t.Fatalf("the Kubernetes binaries are missing from %s: run `make test`, or hack/setup-envtest.sh, to build them", binDir)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "localcluster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "--bin-dir", binDir, "--images-dir", imagesDir(t), "--state-dir", state, "--run", "sleeper=/bin/sleep 300")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the ready line: %v", err)
	}
	if want := "KUBECONFIG=" + filepath.Join(state, "kubeconfig") + "\n"; line != want {
		t.Fatalf("printed %q, want %q", line, want)
	}
	env, err := os.ReadFile(filepath.Join(state, "localcluster.env"))
	if err != nil || !strings.Contains(string(env), "export KUBECONFIG=") || !strings.Contains(string(env), "export LOCALCLUSTER_SERVICE_CIDR=10.202.") {
		t.Fatalf("env file: %v %q", err, env)
	}
	kubectl := exec.Command(filepath.Join(binDir, "kubectl"), "--kubeconfig", filepath.Join(state, "kubeconfig"), "get", "nodes", "-o", "name")
	if out, err := kubectl.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "node/localnode" {
		t.Fatalf("kubectl get nodes: %v %q", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(state, "localcluster.env")); !os.IsNotExist(err) {
		t.Errorf("env file left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "logs", "sleeper.log")); err != nil {
		t.Errorf("host process log: %v", err)
	}
	// kube-controller-manager names the state directory, kube-apiserver
	// the service range, the host process its command.
	serviceCIDR := envValue(string(env), "LOCALCLUSTER_SERVICE_CIDR")
	if left := processesMentioning(state, "--service-cluster-ip-range="+serviceCIDR, "/bin/sleep 300"); len(left) > 0 {
		t.Fatalf("processes left behind: %q", left)
	}
}

// envValue reads NAME's value from export lines.
func envValue(env, name string) string {
	for _, line := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+name+"="); ok {
			return v
		}
	}
	return ""
}

// processesMentioning lists live processes whose command line contains one
// of needles.
func processesMentioning(needles ...string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue
		}
		cmd := strings.ReplaceAll(string(raw), "\x00", " ")
		for _, n := range needles {
			if strings.Contains(cmd, n) {
				found = append(found, e.Name()+": "+cmd)
				break
			}
		}
	}
	return found
}

// TestNextStartCleansUpAfterAKill kills the program with SIGKILL while a
// container runs (containerd's shims and containers are made to outlive
// containerd, and the network namespace, mounts and cgroups stay), then
// checks the next start removes all of it.
func TestNextStartCleansUpAfterAKill(t *testing.T) {
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		binDir, _ = filepath.Abs(filepath.Join("..", "..", "..", "bin", "k8s"))
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "localcluster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := func(state string) (*exec.Cmd, chan error, map[string]string) {
		cmd := exec.Command(bin, "--bin-dir", binDir, "--images-dir", imagesDir(t), "--state-dir", state)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
			t.Fatalf("reading the ready line: %v", err)
		}
		raw, err := os.ReadFile(filepath.Join(state, "localcluster.env"))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, name := range []string{"KUBECONFIG", "LOCALCLUSTER_STATE_DIR"} {
			env[name] = envValue(string(raw), name)
		}
		return cmd, done, env
	}

	first, firstDone, env := start(filepath.Join(dir, "first"))
	kubectl := func(args ...string) string {
		out, err := exec.Command(filepath.Join(binDir, "kubectl"), append([]string{"--kubeconfig", env["KUBECONFIG"]}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// A port no other test's pod listens on marks this container's
	// process: other clusters may run on the machine at the same time.
	listen := fmt.Sprintf("--listen=:%d", 20000+rand.IntN(20000))
	kubectl("run", "origin", "--image=ghcr.io/cacheops/demo-origin:v0.1.0", "--image-pull-policy=Never", "--", listen)
	kubectl("wait", "--for=condition=Ready", "pod/origin", "--timeout=2m")
	containers := processesMentioning(listen)
	if len(containers) != 1 {
		t.Fatalf("want one container process, found %q", containers)
	}

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-firstDone; err == nil {
		t.Fatal("the harness exited cleanly after SIGKILL")
	}
	if left := processesMentioning(listen); len(left) != 1 {
		t.Fatalf("the container should outlive its harness until the next start, found %q", left)
	}

	second, secondDone, _ := start(filepath.Join(dir, "second"))
	if left := processesMentioning(listen, env["LOCALCLUSTER_STATE_DIR"]); len(left) > 0 {
		t.Errorf("the next start left the killed cluster's processes: %q", left)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), env["LOCALCLUSTER_STATE_DIR"]) {
		t.Errorf("mounts of the killed cluster remain")
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-secondDone:
		if err != nil {
			t.Errorf("the harness did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("still running a minute after SIGTERM")
	}
}
