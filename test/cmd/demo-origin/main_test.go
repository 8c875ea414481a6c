package main

import (
	"bufio"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// build builds the program into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "demo-origin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServesUntilSignalled builds the program, reads the URL it prints,
// fetches a page of the release it was given and stops it with SIGTERM.
func TestServesUntilSignalled(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--release", "v2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, %v", url, err)
	}
	resp, err := http.Get(strings.TrimSpace(url) + "/products/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Origin-Version") != "1" || resp.Header.Get("X-Origin-Release") != "v2" {
		t.Fatalf("GET /products/1: %d version %q release %q", resp.StatusCode, resp.Header.Get("X-Origin-Version"), resp.Header.Get("X-Origin-Release"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestRefusesABadRelease checks a release that cannot go into a header is
// refused with a clear message.
func TestRefusesABadRelease(t *testing.T) {
	out, err := exec.Command(build(t), "--release", "v2\r\nX-Evil: 1").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1\n%s", err, out)
	}
	if want := "want at most 32 letters, digits"; !strings.Contains(string(out), want) {
		t.Fatalf("output %q lacks %q", out, want)
	}
}
