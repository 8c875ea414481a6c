package localcluster

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// containerRun is the state of one container of a pod across its restarts.
// It is owned by the pod's worker goroutine.
type containerRun struct {
	spec *corev1.Container

	// proc is the running process, nil when none runs.
	proc *process
	// runID counts starts, so reports from an earlier run are recognised
	// and dropped.
	runID        int
	cancelProbes context.CancelFunc

	state        corev1.ContainerState
	lastState    corev1.ContainerState
	restartCount int32
	started      bool
	ready        bool
	containerID  string
	imageID      string

	everRan bool
	backoff restartBackoff
	// startFailures counts failed attempts to start since the last start,
	// for the back-off of image and configuration errors.
	startFailures int
	// nextStart is when the container may start (again); zero means it
	// will not start again (done, or its pod is terminating).
	nextStart time.Time
}

func newContainerRun(spec *corev1.Container, base, maxBackoff time.Duration, now time.Time) *containerRun {
	return &containerRun{
		spec:      spec,
		state:     corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		backoff:   restartBackoff{base: base, max: maxBackoff},
		nextStart: now,
	}
}

func (c *containerRun) running() bool { return c.proc != nil }

// waiting records that the container could not start, and when to try
// again: the kubelet retries image and configuration errors with back-off
// too.
func (c *containerRun) waiting(reason, message string, retryAt time.Time) {
	c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
	c.nextStart = retryAt
}

// startedProcess records a new run of the container.
func (c *containerRun) startedProcess(p *process, imageID string, now time.Time) {
	if c.everRan {
		c.restartCount++
		c.backoff.restarted(now)
	}
	if c.state.Terminated != nil {
		c.lastState = c.state
	}
	c.everRan = true
	c.startFailures = 0
	c.runID++
	c.proc = p
	c.imageID = imageID
	c.containerID = fmt.Sprintf("localcluster://%d", p.PID())
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: apiTime(p.startedAt)}}
	// Without a startup probe a running container has started; without a
	// readiness probe a started container is ready.
	c.started = c.spec.StartupProbe == nil
	c.ready = c.started && c.spec.ReadinessProbe == nil
	c.nextStart = time.Time{}
}

// exited records the end of the current run and returns its terminated
// state.
func (c *containerRun) exited(ps *os.ProcessState, at time.Time) *corev1.ContainerStateTerminated {
	if c.cancelProbes != nil {
		c.cancelProbes()
		c.cancelProbes = nil
	}
	startedAt := apiTime(c.proc.startedAt)
	c.proc = nil
	c.ready = false
	c.started = false
	t := &corev1.ContainerStateTerminated{
		ExitCode:    int32(ps.ExitCode()),
		StartedAt:   startedAt,
		FinishedAt:  apiTime(at),
		ContainerID: c.containerID,
		Reason:      "Completed",
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// Container runtimes report a signal death as 128+signal.
		t.Signal = int32(ws.Signal())
		t.ExitCode = 128 + t.Signal
	}
	if t.ExitCode != 0 {
		t.Reason = "Error"
	}
	c.state = corev1.ContainerState{Terminated: t}
	return t
}

// shouldRestart applies the pod's restart policy to an exit code.
func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// status renders the container's status as the kubelet reports it.
func (c *containerRun) status() corev1.ContainerStatus {
	started := c.started
	return corev1.ContainerStatus{
		Name:                 c.spec.Name,
		State:                *c.state.DeepCopy(),
		LastTerminationState: *c.lastState.DeepCopy(),
		Ready:                c.ready,
		RestartCount:         c.restartCount,
		Image:                c.spec.Image,
		ImageID:              c.imageID,
		ContainerID:          c.containerID,
		Started:              &started,
	}
}
