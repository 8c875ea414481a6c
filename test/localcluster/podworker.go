package localcluster

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podWorker runs one pod: its address, its containers' processes and
// probes, and its status, from the pod's binding to its deletion. All its
// state is owned by the run goroutine; other goroutines reach it through
// update, markGone, control and the events channel, so no lock guards the
// containers.
type podWorker struct {
	agent     *nodeAgent
	uid       types.UID
	namespace string
	name      string
	log       logr.Logger

	mu     sync.Mutex // guards latest
	latest *corev1.Pod
	// notify has room for one signal: "latest changed".
	notify   chan struct{}
	events   chan any
	gone     chan struct{}
	goneOnce sync.Once
	// finished is closed when run returns; senders select on it so they
	// never block on a worker that is gone.
	finished chan struct{}

	// Owned by run.
	pod         *corev1.Pod
	ip          netip.Addr
	containers  []*containerRun
	written     *corev1.PodStatus
	terminating bool
	podGone     bool
	retryAt     time.Time // when to retry a failed status write or IP allocation
}

// exitEvent says a container's process has exited.
type exitEvent struct {
	container int
	runID     int
	state     *os.ProcessState
	at        time.Time
}

// probeEvent carries one probe result of a container run.
type probeEvent struct {
	container int
	runID     int
	report    probeReport
}

// controlRequest asks the worker to signal its processes (signal set) or to
// list them (pids set); the answer goes to reply.
type controlRequest struct {
	signal syscall.Signal
	pids   *map[string]int
	reply  chan error
}

func newPodWorker(a *nodeAgent, pod *corev1.Pod) *podWorker {
	now := time.Now()
	w := &podWorker{
		agent:     a,
		uid:       pod.UID,
		namespace: pod.Namespace,
		name:      pod.Name,
		log:       a.log.WithValues("pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID),
		notify:    make(chan struct{}, 1),
		events:    make(chan any),
		gone:      make(chan struct{}),
		finished:  make(chan struct{}),
		pod:       pod,
	}
	for i := range pod.Spec.Containers {
		w.containers = append(w.containers, newContainerRun(&pod.Spec.Containers[i], a.restartBase, a.restartMax, now))
	}
	return w
}

// update hands the worker the latest version of its pod.
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.latest = pod
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// markGone tells the worker its pod object no longer exists.
func (w *podWorker) markGone() {
	w.goneOnce.Do(func() { close(w.gone) })
}

// deliver sends an event to the run loop unless the worker has finished.
func (w *podWorker) deliver(ev any) {
	select {
	case w.events <- ev:
	case <-w.finished:
	}
}

// control runs a request in the worker and returns its answer.
func (w *podWorker) control(req controlRequest) error {
	req.reply = make(chan error, 1)
	select {
	case w.events <- req:
	case <-w.finished:
		return errors.New("pod has stopped")
	}
	return <-req.reply
}

// run is the worker's loop: it reacts to pod updates, process exits, probe
// results, control requests and its own timer, and after each brings the
// pod's processes and status in line with the pod's spec.
func (w *podWorker) run(ctx context.Context) {
	defer close(w.finished)
	defer func() {
		if w.ip.IsValid() {
			w.agent.pool.release(w.ip)
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	gone := w.gone
	for {
		if w.sync(ctx) {
			return
		}
		w.armTimer(timer)
		select {
		case <-ctx.Done():
			w.shutdown()
			return
		case <-gone:
			w.podGone = true
			gone = nil
		case <-w.notify:
			w.mu.Lock()
			w.pod = w.latest
			w.mu.Unlock()
		case ev := <-w.events:
			w.handle(ev)
		case <-timer.C:
		}
	}
}

// armTimer sets timer to the earliest moment the worker has something to do
// without being told: a container start after back-off, or a retry.
func (w *podWorker) armTimer(timer *time.Timer) {
	next := w.retryAt
	for _, c := range w.containers {
		if !c.running() && !c.nextStart.IsZero() && (next.IsZero() || c.nextStart.Before(next)) {
			next = c.nextStart
		}
	}
	timer.Stop()
	if !next.IsZero() {
		timer.Reset(time.Until(next))
	}
}

// sync brings the pod's processes and status in line with its spec and
// reports whether the worker is done.
func (w *podWorker) sync(ctx context.Context) (done bool) {
	if (w.podGone || w.pod.DeletionTimestamp != nil) && !w.terminating {
		w.terminate()
	}
	if w.terminating {
		for _, c := range w.containers {
			if c.running() {
				w.writeStatus(ctx, false)
				return false
			}
		}
		if w.podGone {
			return true
		}
		if !w.writeStatus(ctx, true) {
			return false
		}
		return w.deletePod(ctx)
	}

	if !w.ip.IsValid() && !w.allocateIP() {
		return false
	}
	now := time.Now()
	for i, c := range w.containers {
		if !c.running() && !c.nextStart.IsZero() && !now.Before(c.nextStart) {
			w.startContainer(ctx, i)
		}
	}
	w.writeStatus(ctx, false)
	return false
}

func (w *podWorker) allocateIP() bool {
	ip, err := w.agent.pool.allocate()
	if err != nil {
		w.log.Error(err, "Cannot allocate pod IP")
		w.agent.recorder.Eventf(w.pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "localcluster: %v", err)
		w.retryAt = time.Now().Add(5 * time.Second)
		return false
	}
	w.ip = ip
	w.retryAt = time.Time{}
	return true
}

// handle applies one event to the worker's state.
func (w *podWorker) handle(ev any) {
	switch ev := ev.(type) {
	case exitEvent:
		w.containerExited(ev)
	case probeEvent:
		w.probed(ev)
	case controlRequest:
		ev.reply <- w.controlProcesses(ev)
	}
}

func (w *podWorker) containerExited(ev exitEvent) {
	c := w.containers[ev.container]
	if ev.runID != c.runID || !c.running() {
		return
	}
	t := c.exited(ev.state, ev.at)
	w.log.Info("Container exited", "container", c.spec.Name, "exitCode", t.ExitCode, "signal", t.Signal)
	if w.terminating || !shouldRestart(w.pod.Spec.RestartPolicy, t.ExitCode) {
		c.nextStart = time.Time{}
		return
	}
	now := time.Now()
	delay := c.backoff.delay(ev.at, now)
	c.nextStart = now.Add(delay)
	if delay > 0 {
		c.lastState = c.state
		c.waiting("CrashLoopBackOff", backoffMessage(c.backoff.current, c.spec.Name, w.pod), c.nextStart)
		w.agent.recorder.Eventf(w.pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.spec.Name, podRef(w.pod))
	}
}

func (w *podWorker) probed(ev probeEvent) {
	c := w.containers[ev.container]
	if ev.runID != c.runID || !c.running() || w.terminating {
		return
	}
	r := ev.report
	if !r.success {
		w.agent.recorder.Eventf(w.pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", r.kind, r.message)
	}
	if !r.changed {
		return
	}
	switch r.kind {
	case probeStartup:
		if r.success {
			c.started = true
			c.ready = c.spec.ReadinessProbe == nil
			return
		}
		w.restartUnhealthy(c, "startup")
	case probeReadiness:
		c.ready = r.success && c.started
	case probeLiveness:
		if !r.success {
			w.restartUnhealthy(c, "liveness")
		}
	}
}

// restartUnhealthy stops a container that failed its liveness or startup
// probe; its exit then goes through the restart policy like any other.
func (w *podWorker) restartUnhealthy(c *containerRun, probe string) {
	w.agent.recorder.Eventf(w.pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.spec.Name, probe)
	go c.proc.stop(w.gracePeriod())
}

func (w *podWorker) controlProcesses(req controlRequest) error {
	if req.pids != nil {
		pids := map[string]int{}
		for _, c := range w.containers {
			if c.running() {
				pids[c.spec.Name] = c.proc.PID()
			}
		}
		*req.pids = pids
		return nil
	}
	var errs []error
	signalled := 0
	for _, c := range w.containers {
		if c.running() {
			errs = append(errs, c.proc.signalGroup(req.signal))
			signalled++
		}
	}
	if signalled == 0 {
		return errors.New("no container of the pod is running")
	}
	return errors.Join(errs...)
}

// terminate starts the pod's shutdown: SIGTERM to every container, SIGKILL
// after the grace period, and no more starts.
func (w *podWorker) terminate() {
	w.terminating = true
	grace := w.gracePeriod()
	w.log.Info("Stopping pod", "gracePeriod", grace)
	for _, c := range w.containers {
		c.nextStart = time.Time{}
		if c.running() {
			if c.cancelProbes != nil {
				c.cancelProbes()
			}
			w.agent.recorder.Eventf(w.pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", c.spec.Name)
			go c.proc.stop(grace)
		}
	}
}

// shutdown stops every process at once for the end of the cluster: a
// paused process is resumed so it can handle SIGTERM, and the grace period
// is capped. Nothing is written to the API server, which is going away.
func (w *podWorker) shutdown() {
	grace := min(w.gracePeriod(), w.agent.stopGrace)
	var wg sync.WaitGroup
	for _, c := range w.containers {
		if c.running() {
			p := c.proc
			_ = p.signalGroup(syscall.SIGCONT)
			wg.Go(func() { p.stop(grace) })
		}
	}
	wg.Wait()
}

// gracePeriod is how long a container may take to exit after SIGTERM: the
// deletion's grace period, else the pod's, with the kubelet's 2s minimum
// for forced deletions.
func (w *podWorker) gracePeriod() time.Duration {
	seconds := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if w.pod.Spec.TerminationGracePeriodSeconds != nil {
		seconds = *w.pod.Spec.TerminationGracePeriodSeconds
	}
	if w.pod.DeletionGracePeriodSeconds != nil {
		seconds = *w.pod.DeletionGracePeriodSeconds
	}
	return max(time.Duration(seconds)*time.Second, 2*time.Second)
}
