package bench

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	CPU      string            `json:"cpu"`
	CPUs     int               `json:"cpus"`
	MemoryGi float64           `json:"memoryGiB"`
	Kernel   string            `json:"kernel"`
	OS       string            `json:"os"`
	Versions map[string]string `json:"versions"`
}

// DescribeMachine reads the CPU model, memory, kernel and the versions of
// the tools the benchmark runs.
func DescribeMachine(ctx context.Context, env *Env) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Versions: map[string]string{"go": runtime.Version()}}
	if out, err := exec.CommandContext(ctx, "lscpu").Output(); err == nil {
		for line := range strings.SplitSeq(string(out), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == "Model name" {
				m.CPU = strings.TrimSpace(v)
			}
			if ok && strings.TrimSpace(k) == "Hypervisor vendor" {
				m.CPU += " (" + strings.TrimSpace(v) + " guest)"
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb float64
				for f := range strings.FieldsSeq(rest) {
					if n, err := strconv.ParseFloat(f, 64); err == nil {
						kb = n
						break
					}
				}
				m.MemoryGi = kb / (1 << 20)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	version := func(name string, args ...string) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput() // wrk -v exits 1
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		m.Versions[name] = strings.TrimSpace(line)
	}
	version("varnishd", "-V")
	version("nginx", "-v")
	version(env.Wrk, "-v")
	if m.Versions[env.Wrk] != "" && env.Wrk != "wrk" {
		m.Versions["wrk"] = m.Versions[env.Wrk]
		delete(m.Versions, env.Wrk)
	}
	if w := m.Versions["wrk"]; w != "" {
		m.Versions["wrk"], _, _ = strings.Cut(w, " Copyright")
	}
	return m
}

// LoadAverage is /proc/loadavg's first three fields.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
