package localcluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// startContainer resolves container i's image, environment and command
// line and starts its process. What stops it from starting becomes the
// container's Waiting reason, retried with back-off as the kubelet does.
func (w *podWorker) startContainer(ctx context.Context, i int) {
	c := w.containers[i]
	now := time.Now()
	spec, err := w.processSpec(ctx, c)
	if err != nil {
		reason := "CreateContainerConfigError"
		var imgErr *imageError
		if errors.As(err, &imgErr) {
			reason = imgErr.Reason
		}
		// Config and image errors are retried like a crash loop, so a
		// missing Secret created later is picked up.
		retry := min(c.backoff.base<<min(c.startFailures, 10), c.backoff.max)
		c.startFailures++
		if c.state.Waiting == nil || c.state.Waiting.Message != err.Error() {
			w.agent.recorder.Eventf(w.pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
			w.log.Info("Cannot start container", "container", c.spec.Name, "reason", reason, "message", err.Error())
		}
		c.waiting(reason, err.Error(), now.Add(retry))
		return
	}

	if !c.everRan {
		w.agent.recorder.Eventf(w.pod, corev1.EventTypeNormal, "Pulled", "Image %q is played by the local binary %s", c.spec.Image, spec.Path)
	}
	p, err := w.agent.spawner.start(spec)
	if err != nil {
		w.agent.recorder.Eventf(w.pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		c.waiting("RunContainerError", err.Error(), now.Add(c.backoff.base))
		return
	}
	c.startedProcess(p, "localcluster://"+spec.Path, now)
	w.log.Info("Container started", "container", c.spec.Name, "pid", p.PID(), "restartCount", c.restartCount)
	w.agent.recorder.Eventf(w.pod, corev1.EventTypeNormal, "Started", "Started container %s (pid %d)", c.spec.Name, p.PID())

	runID := c.runID
	go func() {
		<-p.Done()
		w.deliver(exitEvent{container: i, runID: runID, state: p.ExitState(), at: time.Now()})
	}()
	if c.spec.StartupProbe != nil || c.spec.ReadinessProbe != nil || c.spec.LivenessProbe != nil {
		probeCtx, cancel := context.WithCancel(ctx)
		c.cancelProbes = cancel
		podIP, container := w.ip.String(), c.spec
		go w.agent.prober.run(probeCtx, podIP, container, func(r probeReport) {
			w.deliver(probeEvent{container: i, runID: runID, report: r})
		})
	}
}

// processSpec resolves what container c runs, as the kubelet would before
// creating it.
func (w *podWorker) processSpec(ctx context.Context, c *containerRun) (processSpec, error) {
	if len(c.spec.VolumeMounts) > 0 || len(c.spec.VolumeDevices) > 0 {
		return processSpec{}, fmt.Errorf("localcluster cannot mount volumes (container %s mounts %q); pass configuration through env instead", c.spec.Name, c.spec.VolumeMounts[0].MountPath)
	}
	binary, err := resolveImage(w.agent.images, c.spec.Image)
	if err != nil {
		return processSpec{}, err
	}
	view := w.podView()
	env, err := containerEnv(ctx, w.agent, view, c.spec)
	if err != nil {
		return processSpec{}, err
	}
	if _, ok := env.lookup("HOSTNAME"); !ok {
		// The container runtime sets it to the pod's host name.
		env.set("HOSTNAME", w.pod.Name)
	}
	path, args, err := containerArgv(binary, c.spec.Image,
		expandAll(c.spec.Command, env.values), expandAll(c.spec.Args, env.values))
	if err != nil {
		return processSpec{}, err
	}
	dir := w.agent.podScratchDir(w.pod)
	if err := ensureDir(dir); err != nil {
		return processSpec{}, err
	}
	return processSpec{
		Path:    path,
		Args:    args,
		Env:     env.environ(),
		Dir:     dir,
		LogPath: w.agent.podLogPath(w.pod),
	}, nil
}

// podView is the pod as its containers see it through the downward API:
// with the addresses this worker assigned.
func (w *podWorker) podView() *corev1.Pod {
	view := w.pod.DeepCopy()
	view.Status.PodIP = w.ip.String()
	view.Status.PodIPs = []corev1.PodIP{{IP: w.ip.String()}}
	view.Status.HostIP = w.agent.hostIP
	view.Status.HostIPs = []corev1.HostIP{{IP: w.agent.hostIP}}
	return view
}

func backoffMessage(d time.Duration, container string, pod *corev1.Pod) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, container, podRef(pod))
}

func podRef(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
