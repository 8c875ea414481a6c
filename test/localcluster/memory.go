package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ContainerMemory is what the kernel's memory cgroup of one container
// says: the limit the kubelet set from the container's resources, and what
// the kernel did to hold it.
type ContainerMemory struct {
	// Limit is the cgroup's hard limit in bytes (resources.limits.memory),
	// 0 when unlimited.
	Limit int64
	// Usage is the current charge in bytes, page cache included.
	Usage int64
	// Peak is the highest charge since the container started, in bytes
	// (0 where the kernel does not keep it: cgroup v2 before Linux 5.19).
	Peak int64
	// OOMKills counts the processes the OOM killer killed in this cgroup
	// (v1 memory.oom_control, v2 memory.events "oom_kill"). A container
	// whose main process is OOM-killed gets a new cgroup when the kubelet
	// restarts it: read its restart count and last state too.
	OOMKills int64
}

// ContainerMemory reads the memory cgroup of a running container of a pod.
func (c *Cluster) ContainerMemory(namespace, pod, container string) (ContainerMemory, error) {
	p, err := c.getPod(namespace, pod)
	if err != nil {
		return ContainerMemory{}, err
	}
	dirs, err := c.containerCgroups(memoryHierarchy(), p)
	if err != nil {
		return ContainerMemory{}, err
	}
	dir, ok := dirs[container]
	if !ok {
		return ContainerMemory{}, fmt.Errorf("pod %s/%s has no running container %s", namespace, pod, container)
	}
	if isCgroup2() {
		return readMemoryV2(dir)
	}
	return readMemoryV1(dir)
}

// memoryHierarchy is v1's memory controller (or the v2 tree).
func memoryHierarchy() string {
	if isCgroup2() {
		return cgroupMount
	}
	return filepath.Join(cgroupMount, "memory")
}

// v1 reports "no limit" as the largest page-aligned int64.
const v1Unlimited = math.MaxInt64 &^ 4095

func readMemoryV1(dir string) (ContainerMemory, error) {
	var m ContainerMemory
	var errs []error
	read := func(file string) int64 {
		n, err := readInt(filepath.Join(dir, file))
		errs = append(errs, err)
		return n
	}
	if m.Limit = read("memory.limit_in_bytes"); m.Limit >= v1Unlimited {
		m.Limit = 0
	}
	m.Usage = read("memory.usage_in_bytes")
	m.Peak = read("memory.max_usage_in_bytes")
	oom, err := readKeyed(filepath.Join(dir, "memory.oom_control"))
	m.OOMKills = oom["oom_kill"]
	return m, errors.Join(append(errs, err)...)
}

func readMemoryV2(dir string) (ContainerMemory, error) {
	var m ContainerMemory
	var errs []error
	if b, err := os.ReadFile(filepath.Join(dir, "memory.max")); err != nil {
		errs = append(errs, err)
	} else if v := strings.TrimSpace(string(b)); v != "max" {
		m.Limit, err = strconv.ParseInt(v, 10, 64)
		errs = append(errs, err)
	}
	var err error
	m.Usage, err = readInt(filepath.Join(dir, "memory.current"))
	errs = append(errs, err)
	if m.Peak, err = readInt(filepath.Join(dir, "memory.peak")); errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	errs = append(errs, err)
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	m.OOMKills = events["oom_kill"]
	return m, errors.Join(append(errs, err)...)
}

// readInt reads a cgroup file holding one integer.
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return n, nil
}

// readKeyed reads a cgroup file of "key value" lines.
func readKeyed(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %q: %w", path, sc.Text(), err)
		}
		out[k] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}
