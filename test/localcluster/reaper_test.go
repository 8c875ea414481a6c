package localcluster

import (
	"os/exec"
	"syscall"
	"testing"
)

// startSleeper starts a process group leader that sleeps, and reaps it when
// it dies.
func startSleeper(t *testing.T) (*exec.Cmd, chan struct{}) {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

func TestReaperKillsWhenTheHarnessGoes(t *testing.T) {
	target, done := startSleeper(t)
	pid, err := childProcess("/bin/sleep", "60")
	if err != nil || pid != target.Process.Pid {
		t.Fatalf("childProcess = %d, %v; want %d", pid, err, target.Process.Pid)
	}
	r, err := startReaper([]int{target.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	// Closing the pipe is what the kernel does when the harness dies.
	r.writer.Close()
	<-done
	if ws := target.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
		t.Fatalf("target ended with %v, want SIGKILL", target.ProcessState)
	}
	_ = r.cmd.Wait()
}

func TestDisarmedReaperKillsNothing(t *testing.T) {
	target, done := startSleeper(t)
	r, err := startReaper([]int{target.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	r.disarm()
	select {
	case <-done:
		t.Fatal("a disarmed reaper killed its target")
	default:
	}
	if err := syscall.Kill(target.Process.Pid, 0); err != nil {
		t.Fatalf("target gone: %v", err)
	}
}
