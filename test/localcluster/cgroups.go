package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupMount is where the host mounts its cgroup hierarchies. These
// machines have cgroup v1 with the unified hierarchy beside it (hybrid);
// see startKubelet's failCgroupV1.
const cgroupMount = "/sys/fs/cgroup"

// cgroupHierarchies lists the mounted cgroup hierarchies (v1 controllers,
// name=systemd, unified), or the one v2 hierarchy.
func cgroupHierarchies() []string {
	if isCgroup2() {
		return []string{cgroupMount}
	}
	var out []string
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		p := filepath.Join(cgroupMount, e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// isCgroup2 says whether the host mounts the unified (v2) hierarchy.
func isCgroup2() bool {
	var st syscall.Statfs_t
	return syscall.Statfs(cgroupMount, &st) == nil && st.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
}

// seedCpuset copies the parent's cpus and mems into a new v1 cpuset
// cgroup, without which nothing can join it.
func seedCpuset(root string) error {
	dir := filepath.Join(cgroupMount, "cpuset", root)
	if _, err := os.Stat(dir); err != nil {
		return nil // no v1 cpuset hierarchy
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := os.ReadFile(filepath.Join(cgroupMount, "cpuset", f))
		if err != nil {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
			return fmt.Errorf("seeding %s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// pidsHierarchy is the hierarchy whose cgroup.procs lists a cgroup's
// processes: v1's pids controller, or the v2 tree.
func pidsHierarchy() string {
	if isCgroup2() {
		return cgroupMount
	}
	return filepath.Join(cgroupMount, "pids")
}

// freezerHierarchy is v1's freezer (v2 freezes through cgroup.freeze).
func freezerHierarchy() string {
	if isCgroup2() {
		return cgroupMount
	}
	return filepath.Join(cgroupMount, "freezer")
}

// findCgroup returns the path, relative to a hierarchy, of the cgroup
// named name somewhere under root (a pod's cgroup sits under its QoS
// class's, or right under kubepods for Guaranteed pods).
func findCgroup(hierarchy, root, name string) (string, error) {
	var found string
	err := filepath.WalkDir(filepath.Join(hierarchy, root), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a cgroup removed while walking
		}
		if d.IsDir() && d.Name() == name {
			found = path
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil || found == "" {
		return "", fmt.Errorf("no cgroup %s under %s: %w", name, filepath.Join(hierarchy, root), errors.Join(err, fs.ErrNotExist))
	}
	return strings.TrimPrefix(found, hierarchy), nil
}

// cgroupProcs lists the processes of one cgroup (not its children).
func cgroupProcs(dir string) ([]int, error) {
	f, err := os.Open(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("listing processes of cgroup %s: %w", dir, err)
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, sc.Err()
}

// treeProcs lists the processes of a cgroup and all its children.
func treeProcs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			p, _ := cgroupProcs(path)
			pids = append(pids, p...)
		}
		return nil
	})
	slices.Sort(pids)
	return slices.Compact(pids)
}

// setFrozen freezes or thaws a cgroup and, in v1, waits for the state to
// settle (FREEZING becomes FROZEN once every task stopped).
func setFrozen(dir string, frozen bool) error {
	if isCgroup2() {
		v := "0"
		if frozen {
			v = "1"
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0o644); err != nil {
			return fmt.Errorf("freezing %s: %w", dir, err)
		}
		return nil
	}
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	if err := os.WriteFile(filepath.Join(dir, "freezer.state"), []byte(want), 0o644); err != nil {
		return fmt.Errorf("setting %s to %s: %w", dir, want, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		if strings.TrimSpace(string(state)) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s stays %s, want %s", dir, strings.TrimSpace(string(state)), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeCgroupTree kills what still runs under root in every hierarchy
// (thawing first: a frozen task cannot die) and removes the cgroups,
// deepest first.
func removeCgroupTree(root string) error {
	if dir := filepath.Join(freezerHierarchy(), root); exists(dir) && !isCgroup2() {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.WriteFile(filepath.Join(path, "freezer.state"), []byte("THAWED"), 0o644)
			}
			return nil
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := treeProcs(filepath.Join(pidsHierarchy(), root))
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v under cgroup %s do not die", pids, root)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var errs []error
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, root)
		if !exists(dir) {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := removeCgroup(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroup removes an empty cgroup, retrying briefly: the kernel
// refuses while the last exited task is still being torn down.
func removeCgroup(dir string) error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", dir, err)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
