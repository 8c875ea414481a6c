package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a server process the benchmark started: cacheproxy, varnishd or
// nginx. It runs in its own process group, so its workers (nginx) and child
// (varnishd's cache process) are measured and stopped with it, and it gets
// SIGKILL if the driver dies without stopping it.
type Proc struct {
	Name    string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error, set before done closes
}

// Procs owns every process a run starts and stops them all at the end,
// whatever happened in between.
type Procs struct {
	// mu guards live.
	mu   sync.Mutex
	live []*Proc
}

// Start runs path with args, output to logPath, in a new process group.
func (ps *Procs) Start(name, logPath, path string, args ...string) (*Proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	defer logFile.Close()
	// Not CommandContext: the process lives until Stop, not until a context ends.
	cmd := exec.Command(path, args...) //nolint:noctx // stopped by Stop/StopAll
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.live = append(ps.live, p)
	ps.mu.Unlock()
	return p, nil
}

// StopAll stops every process still running, most recent first.
func (ps *Procs) StopAll() {
	ps.mu.Lock()
	live := ps.live
	ps.live = nil
	ps.mu.Unlock()
	for i := len(live) - 1; i >= 0; i-- {
		live[i].Stop()
	}
}

// PID is the process id, which is also its process group id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to 10s, then kills the
// group. Stopping a stopped process does nothing.
func (p *Proc) Stop() {
	if exited, _ := p.Exited(); exited {
		if u, err := p.Usage(); err == nil && u.Processes > 0 {
			killGroup(p.PID(), syscall.SIGKILL) // workers left behind by a crashed parent
		}
		return
	}
	killGroup(p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		killGroup(p.PID(), syscall.SIGKILL)
		<-p.done
	}
	killGroup(p.PID(), syscall.SIGKILL)
}

func killGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// GroupUsage is the CPU time and resident memory of a process group.
type GroupUsage struct {
	CPU       time.Duration // user + system time of every live process in the group
	RSS       int64         // resident bytes, summed over the group
	Processes int
}

// Usage reads /proc for every process in p's group. CPU time of processes
// that already exited is lost, which is fine for servers whose workers live
// as long as they do.
func (p *Proc) Usage() (GroupUsage, error) {
	return groupUsage("/proc", p.PID())
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture the benchmark runs on.
const clockTicks = 100

func groupUsage(procRoot string, pgid int) (GroupUsage, error) {
	var u GroupUsage
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return u, err
	}
	page := int64(os.Getpagesize())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		st, err := parseStat(string(data))
		if err != nil || st.pgrp != pgid {
			continue
		}
		u.CPU += time.Duration(st.utime+st.stime) * time.Second / clockTicks
		u.RSS += st.rssPages * page
		u.Processes++
	}
	if u.Processes == 0 {
		return u, fmt.Errorf("no process in group %d", pgid)
	}
	return u, nil
}

type procStat struct {
	pgrp         int
	utime, stime int64
	rssPages     int64
}

// parseStat reads the fields the benchmark needs from a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces,
// so fields are counted from the last ')'.
func parseStat(line string) (procStat, error) {
	var st procStat
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return st, errors.New("no ')' in stat line")
	}
	f := strings.Fields(line[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 22 {
		return st, fmt.Errorf("stat line has %d fields after the name", len(f))
	}
	var err error
	parse := func(s string) int64 {
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil && err == nil {
			err = perr
		}
		return n
	}
	st.pgrp = int(parse(f[5-3]))
	st.utime = parse(f[14-3])
	st.stime = parse(f[15-3])
	st.rssPages = parse(f[24-3])
	return st, err
}

// waitHTTP polls url until it answers (any status) or ctx ends; servers
// take a moment to listen after they start.
func waitHTTP(ctx context.Context, url string, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited while starting (%w); see %s", p.Name, err, p.LogPath)
		}
		req, _ := newGet(ctx, url, "")
		if resp, err := quickClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s: %w; see %s", p.Name, url, ctx.Err(), p.LogPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
