// Package procs reads the processes of this machine from /proc, for the
// tests that check a run left nothing behind: the cluster harness, the
// demo and the end-to-end suite start etcd, kube-apiserver, controllers,
// pods and the operator as processes, and every one must be gone after.
package procs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is one process as /proc shows it.
type Process struct {
	PID, PPID int
	// State is the state letter: R, S, D, T, Z...
	State string
	// Cmdline is the arguments, joined with spaces.
	Cmdline string
	// Environ is the environment, NUL-separated as the kernel keeps it.
	Environ string
	// Cwd is the working directory.
	Cwd string
}

func (p Process) String() string { return fmt.Sprintf("%d: %s", p.PID, p.Cmdline) }

// mentions reports whether the command line, environment or working
// directory of p contains s.
func (p Process) mentions(s string) bool {
	return strings.Contains(p.Cmdline, s) || strings.Contains(p.Environ, s) || strings.HasPrefix(p.Cwd, s)
}

// Get reads process pid. ok is false if it does not exist or is a zombie.
func Get(pid int) (p Process, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, false
	}
	// The command name is in parentheses and may contain spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 || fields[0] == "Z" {
		return p, false
	}
	p.PID, p.State = pid, fields[0]
	p.PPID, _ = strconv.Atoi(fields[1])
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	p.Cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
	p.Environ = string(environ)
	p.Cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	return p, true
}

// Alive reports whether pid runs and is not a zombie.
func Alive(pid int) bool {
	_, ok := Get(pid)
	return ok
}

// Of lists the live processes, this one aside, that are children of parent
// or whose command line, environment or working directory mentions one of
// needles (a state directory, say).
func Of(parent int, needles ...string) []Process {
	entries, _ := os.ReadDir("/proc")
	var found []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		p, ok := Get(pid)
		if !ok {
			continue
		}
		match := p.PPID == parent
		for _, n := range needles {
			match = match || n != "" && p.mentions(n)
		}
		if match {
			found = append(found, p)
		}
	}
	return found
}

// Strings renders processes one a line, for failure messages.
func Strings(ps []Process) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
