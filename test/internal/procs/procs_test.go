package procs

import (
	"os"
	"os/exec"
	"testing"
)

func TestFindsAChildAndItsEnd(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.Env = append(os.Environ(), "PROCS_TEST_MARK=needle-4242")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	p, ok := Get(pid)
	if !ok || p.PPID != os.Getpid() || p.Cmdline != "sleep 60" {
		t.Fatalf("Get(%d) = %+v, %v", pid, p, ok)
	}
	for name, found := range map[string][]Process{
		"by parent":      Of(os.Getpid()),
		"by environment": Of(-1, "needle-4242"),
	} {
		if len(found) != 1 || found[0].PID != pid {
			t.Errorf("%s: found %v, want only the sleep", name, Strings(found))
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if Alive(pid) {
		t.Errorf("pid %d alive after it was killed and reaped", pid)
	}
	if found := Of(-1, "needle-4242"); len(found) != 0 {
		t.Errorf("found %v after the end", Strings(found))
	}
}
