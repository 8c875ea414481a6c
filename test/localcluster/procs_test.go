package localcluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// processesUsing lists live processes (not zombies) that are children of
// this test or whose command line mentions one of needles: what a clean
// Stop must leave none of.
func processesUsing(needles ...string) []string {
	var found []string
	for _, p := range processes(needles...) {
		found = append(found, p)
	}
	return found
}

// processes returns processesUsing's findings by process id.
func processes(needles ...string) map[int]string {
	found := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		state, ppid, ok := procStat(pid)
		if !ok || state == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		mentions := false
		for _, n := range needles {
			mentions = mentions || strings.Contains(cmd, n)
		}
		if ppid == os.Getpid() || mentions {
			found[pid] = fmt.Sprintf("%d: %s", pid, cmd)
		}
	}
	return found
}

// procStat reads a process's state letter and parent id.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	// The command name is in parentheses and may contain spaces.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid, true
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}
