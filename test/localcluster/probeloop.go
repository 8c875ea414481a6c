package localcluster

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// probeSpec is one probe of one container with its kubelet defaults.
type probeSpec struct {
	kind             probeKind
	probe            *corev1.Probe
	initialDelay     time.Duration
	period           time.Duration
	successThreshold int
	failureThreshold int
}

func newProbeSpec(kind probeKind, p *corev1.Probe) probeSpec {
	s := probeSpec{
		kind:             kind,
		probe:            p,
		initialDelay:     time.Duration(p.InitialDelaySeconds) * time.Second,
		period:           time.Duration(p.PeriodSeconds) * time.Second,
		successThreshold: int(p.SuccessThreshold),
		failureThreshold: int(p.FailureThreshold),
	}
	if s.period <= 0 {
		s.period = 10 * time.Second
	}
	if s.successThreshold <= 0 {
		s.successThreshold = 1
	}
	if s.failureThreshold <= 0 {
		s.failureThreshold = 3
	}
	return s
}

// thresholds counts consecutive results and says when the probe's state
// flips: after successThreshold successes or failureThreshold failures in a
// row, as the kubelet's probe worker does.
type thresholds struct {
	spec  probeSpec
	last  bool
	run   int
	valid bool
}

// observe records one result and returns the state to report and whether
// the threshold for it was reached.
func (t *thresholds) observe(success bool) (state bool, reached bool) {
	if t.valid && t.last == success {
		t.run++
	} else {
		t.last, t.run, t.valid = success, 1, true
	}
	if success {
		return true, t.run >= t.spec.successThreshold
	}
	return false, t.run >= t.spec.failureThreshold
}

// probeReport is one probe result of one container run. changed is true
// when the result moved the probe's state across its threshold.
type probeReport struct {
	kind    probeKind
	success bool
	changed bool
	message string
}

// run probes container c of the pod at podIP until ctx ends. The startup
// probe, if any, runs first; readiness and liveness start once it has
// succeeded, as the kubelet disables them until the container has started.
// Probing stops after a liveness or startup failure: the container is about
// to be restarted and gets new probes.
func (pr *prober) run(ctx context.Context, podIP string, c *corev1.Container, report func(probeReport)) {
	if c.StartupProbe != nil {
		if !pr.loop(ctx, newProbeSpec(probeStartup, c.StartupProbe), podIP, c, report) {
			return
		}
	}
	var wg sync.WaitGroup
	if c.ReadinessProbe != nil {
		wg.Go(func() { pr.loop(ctx, newProbeSpec(probeReadiness, c.ReadinessProbe), podIP, c, report) })
	}
	if c.LivenessProbe != nil {
		wg.Go(func() { pr.loop(ctx, newProbeSpec(probeLiveness, c.LivenessProbe), podIP, c, report) })
	}
	wg.Wait()
}

// loop probes every period after the initial delay and reports each
// result. It returns true when a startup probe reached success.
func (pr *prober) loop(ctx context.Context, spec probeSpec, podIP string, c *corev1.Container, report func(probeReport)) bool {
	if spec.initialDelay > 0 {
		delay := time.NewTimer(spec.initialDelay)
		select {
		case <-ctx.Done():
			delay.Stop()
			return false
		case <-delay.C:
		}
	}
	ticker := time.NewTicker(spec.period)
	defer ticker.Stop()
	t := thresholds{spec: spec}
	reported, lastState := false, false
	for {
		err := pr.probe(ctx, spec.probe, podIP, c)
		if ctx.Err() != nil {
			return false
		}
		state, reached := t.observe(err == nil)
		changed := reached && (!reported || state != lastState)
		if changed {
			reported, lastState = true, state
		}
		r := probeReport{kind: spec.kind, success: err == nil, changed: changed}
		if err != nil {
			r.message = err.Error()
		}
		report(r)
		if changed && (spec.kind == probeStartup || (spec.kind == probeLiveness && !state)) {
			return state
		}
		select {
		case <-ctx.Done():
			return false
		case <-ticker.C:
		}
	}
}
