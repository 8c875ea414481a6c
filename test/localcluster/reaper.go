package localcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// reaper kills process groups the harness cannot tie to its own life: etcd
// and kube-apiserver, which envtest starts without a parent-death signal.
// It is a shell blocked reading a pipe whose only writer is the harness.
// When the harness dies, however it dies, the kernel closes the pipe, the
// read ends, and the shell kills the groups. A clean Stop disarms it first.
type reaper struct {
	cmd    *exec.Cmd
	writer *os.File
}

// startReaper arms a reaper for the process groups led by pids.
func startReaper(pids []int) (*reaper, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating reaper pipe: %w", err)
	}
	defer r.Close()
	targets := make([]string, len(pids))
	for i, pid := range pids {
		targets[i] = "-" + strconv.Itoa(pid)
	}
	// cat returns at end of input, which only the harness's death (or
	// disarm) brings; the shell then kills every target group.
	//nolint:noctx // it must outlive every context of the harness.
	cmd := exec.Command("/bin/sh", "-c", "cat >/dev/null; kill -9 "+strings.Join(targets, " "))
	cmd.Stdin = r
	cmd.Env = []string{}
	// Its own group, so disarm can kill the shell and cat together, and no
	// parent-death signal: it must outlive the harness to do its job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting reaper: %w", err)
	}
	return &reaper{cmd: cmd, writer: w}, nil
}

// disarm ends the reaper without it killing anything.
func (rp *reaper) disarm() {
	_ = syscall.Kill(-rp.cmd.Process.Pid, syscall.SIGKILL)
	_ = rp.cmd.Wait()
	rp.writer.Close()
}

// childProcess finds a direct child of this process running binary with
// an argument equal to arg, and returns its pid.
func childProcess(binary, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
		if len(argv) == 0 || filepath.Base(argv[0]) != filepath.Base(binary) {
			continue
		}
		for _, a := range argv[1:] {
			if a == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no child process %s with %s", filepath.Base(binary), arg)
}

// parentOf reads a process's parent id from /proc, or -1.
func parentOf(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// The command name is in parentheses and may contain spaces.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}
