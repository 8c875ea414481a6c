package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stateRecord is the file in a slot's directory naming the cluster's state
// directory, for the cleanup of a harness that died without Stop.
const stateRecord = "state-dir"

// tearDownNode removes everything of slot s that outlives its processes:
// container processes (by the slot's cgroup), containerd shims (by their
// containerd socket, which is the slot's), mounts under the state and slot
// directories, cgroups, and the network namespace with everything in it.
// Stop calls it after stopping the processes it started; claimSlot calls
// it for slots a dead harness left, whose processes died with it (parent
// death signal) but for the shims and containers, which containerd starts
// to outlive it.
func tearDownNode(ctx context.Context, s slot, stateDir string) error {
	var errs []error
	killShims(s)
	if err := removeCgroupTree(s.cgroupRoot()); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range []string{stateDir, s.dir()} {
		if dir != "" {
			if err := unmountUnder(dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := tearDownNetwork(ctx, s); err != nil {
		errs = append(errs, err)
	}
	if stateDir != "" {
		// The images' unpacked layers and the pods' volumes: large, and
		// useless once the node is gone. Logs stay.
		for _, dir := range []string{filepath.Join(stateDir, "node", "containerd"), filepath.Join(stateDir, "node", "kubelet", "root")} {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
			}
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(s.dir()); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", s.dir(), err))
		}
	}
	return errors.Join(errs...)
}

// reclaimSlot cleans up slot n, left by a harness that died.
func reclaimSlot(ctx context.Context, n int) error {
	s := slot{n: n}
	stateDir, _ := os.ReadFile(filepath.Join(s.dir(), stateRecord))
	return tearDownNode(ctx, s, strings.TrimSpace(string(stateDir)))
}

// killShims kills the containerd shims of slot s: each names its
// containerd's socket on its command line.
func killShims(s slot) {
	socket := "-address\x00" + filepath.Join(s.dir(), "containerd.sock") + "\x00"
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), "containerd-shim") || !strings.Contains(string(cmdline), socket) {
			continue
		}
		pids = append(pids, pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Wait for them to go, so their mounts can be released.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) && !isZombie(pid) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("listing mounts: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMount(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range slices.Compact(points) {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
