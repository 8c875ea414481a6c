package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// processSpec says what to run and where its output goes.
type processSpec struct {
	Path string
	Args []string // without argv[0]
	Env  []string // the whole environment: nothing is inherited
	Dir  string
	// LogPath receives stdout and stderr, appended.
	LogPath string
}

// process is one child process running in its own process group. Its
// methods are safe for concurrent use.
type process struct {
	cmd       *exec.Cmd
	startedAt time.Time
	// done is closed once the process has exited and been reaped; state is
	// set before.
	done  chan struct{}
	state *os.ProcessState
}

// spawner starts child processes from one OS thread that lives as long as
// the cluster. Linux delivers Pdeathsig when the thread that forked a child
// exits, not the process: forking from arbitrary Go threads would kill
// children whenever the runtime retires a thread, and forking from one
// locked thread makes "the harness died" the only trigger.
type spawner struct {
	requests chan spawnRequest
	done     chan struct{}
}

type spawnRequest struct {
	cmd    *exec.Cmd
	result chan error
}

func newSpawner() *spawner {
	s := &spawner{requests: make(chan spawnRequest), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *spawner) run() {
	// Never unlocked: when close ends this goroutine its thread exits too,
	// and any child still alive then receives its Pdeathsig.
	runtime.LockOSThread()
	defer close(s.done)
	for req := range s.requests {
		req.result <- req.cmd.Start()
	}
}

// close stops the spawner; start must not be called afterwards.
func (s *spawner) close() {
	close(s.requests)
	<-s.done
}

// start runs spec as a new process group leader that is killed if the
// harness dies.
func (s *spawner) start(spec processSpec) (*process, error) {
	logFile, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file: %w", err)
	}
	// The child holds its own descriptor once started.
	defer logFile.Close()

	//nolint:noctx // stop ends the process, with a grace period a context cannot give.
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = spec.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	req := spawnRequest{cmd: cmd, result: make(chan error, 1)}
	s.requests <- req
	if err := <-req.result; err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Path, err)
	}
	p := &process{cmd: cmd, startedAt: time.Now(), done: make(chan struct{})}
	go p.wait()
	return p, nil
}

func (p *process) wait() {
	// Wait's error repeats what ProcessState says; the state is what we keep.
	_ = p.cmd.Wait()
	p.state = p.cmd.ProcessState
	close(p.done)
}

// PID is the process's id, which is also its process group's id.
func (p *process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *process) Done() <-chan struct{} { return p.done }

// ExitState is the exit status; valid only after Done is closed.
func (p *process) ExitState() *os.ProcessState { return p.state }

// signalGroup sends sig to every process in the group. A group that is
// already gone is not an error.
func (p *process) signalGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.PID(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// stop sends SIGTERM to the process, as a container runtime does to a
// container's main process, waits up to grace for it to exit, then kills the
// whole group; it returns once the process has exited. Group members that
// outlive the leader are killed too, so nothing is orphaned.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			timer := time.NewTimer(grace)
			select {
			case <-p.done:
			case <-timer.C:
			}
			timer.Stop()
		}
	}
	_ = p.signalGroup(syscall.SIGKILL)
	<-p.done
}
