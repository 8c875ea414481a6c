package localcluster

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestProcessStopKillsTheGroup(t *testing.T) {
	sp := newSpawner()
	defer sp.close()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	if err := syscall.Mkfifo(pidFile, 0o600); err != nil {
		t.Fatal(err)
	}
	// The leader ignores SIGTERM and leaves a child behind that ignores it
	// too: only the group SIGKILL after the grace period ends both.
	p, err := sp.start(processSpec{
		Path:    "/bin/sh",
		Args:    []string{"-c", `trap "" TERM; sh -c 'trap "" TERM; echo $$ > ` + pidFile + `; while :; do sleep 1; done' & echo started; wait`},
		LogPath: filepath.Join(dir, "out.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	child := readPID(t, pidFile)

	began := time.Now()
	p.stop(300 * time.Millisecond)
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("stop returned after %v, before the grace period", took)
	}
	ws := p.ExitState().Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("leader exit = %v, want killed", p.ExitState())
	}
	// The group's SIGKILL went out with the leader's; the child dies as the
	// kernel gets to it, and may linger as a zombie until it is reaped.
	NewWithT(t).Eventually(func() bool {
		err := syscall.Kill(child, 0)
		return errors.Is(err, syscall.ESRCH) || isZombie(child)
	}).WithTimeout(5*time.Second).WithPolling(10*time.Millisecond).Should(BeTrue(), "child %d still alive after stop", child)
	out, _ := os.ReadFile(filepath.Join(dir, "out.log"))
	if !strings.Contains(string(out), "started") {
		t.Errorf("log = %q, want the process's output", out)
	}
}

func TestProcessStopIsQuickForWellBehavedProcesses(t *testing.T) {
	sp := newSpawner()
	defer sp.close()
	p, err := sp.start(processSpec{Path: "/bin/sleep", Args: []string{"60"}, LogPath: filepath.Join(t.TempDir(), "log")})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	p.stop(time.Minute)
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("stop took %v for a process that exits on SIGTERM", took)
	}
	if ws := p.ExitState().Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
		t.Fatalf("exit = %v, want SIGTERM", p.ExitState())
	}
}

func TestProcessGetsOnlyItsEnvironment(t *testing.T) {
	sp := newSpawner()
	defer sp.close()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	p, err := sp.start(processSpec{Path: "/usr/bin/env", Env: []string{"ONLY=this"}, Dir: dir, LogPath: log})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	out, _ := os.ReadFile(log)
	if strings.TrimSpace(string(out)) != "ONLY=this" {
		t.Fatalf("environment = %q, want only ONLY=this", out)
	}
}

// readPID reads a process id from a FIFO, blocking until the writer has
// written it.
func readPID(t *testing.T, fifo string) int {
	t.Helper()
	b, err := os.ReadFile(fifo)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid %q: %v", b, err)
	}
	return pid
}
