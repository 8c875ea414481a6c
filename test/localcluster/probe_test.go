package localcluster

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestThresholds(t *testing.T) {
	th := thresholds{spec: newProbeSpec(probeReadiness, &corev1.Probe{SuccessThreshold: 2, FailureThreshold: 3})}
	steps := []struct {
		success     bool
		wantState   bool
		wantReached bool
	}{
		{true, true, false},
		{true, true, true},
		{false, false, false},
		{false, false, false},
		{true, true, false}, // a success breaks the failure run
		{false, false, false},
		{false, false, false},
		{false, false, true},
	}
	for i, s := range steps {
		state, reached := th.observe(s.success)
		if state != s.wantState || reached != s.wantReached {
			t.Fatalf("step %d: observe(%v) = %v, %v; want %v, %v", i, s.success, state, reached, s.wantState, s.wantReached)
		}
	}
}

func TestProbeSpecDefaults(t *testing.T) {
	s := newProbeSpec(probeLiveness, &corev1.Probe{})
	if s.period.Seconds() != 10 || s.successThreshold != 1 || s.failureThreshold != 3 {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestProbeHTTPGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("X-Probe") != "yes" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/redirect":
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	pr := newProber()

	get := func(path string, p intstr.IntOrString) error {
		return pr.probe(context.Background(), &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: p, HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}},
		}}}, host, c)
	}
	if err := get("/ok", intstr.FromString("http")); err != nil {
		t.Errorf("named port: %v", err)
	}
	if err := get("/ok", intstr.FromInt32(int32(port))); err != nil {
		t.Errorf("numbered port: %v", err)
	}
	if err := get("/redirect", intstr.FromInt32(int32(port))); err != nil {
		t.Errorf("a redirect is a success and is not followed: %v", err)
	}
	if err := get("/down", intstr.FromInt32(int32(port))); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: err = %v", err)
	}
	if err := get("/ok", intstr.FromString("nope")); err == nil {
		t.Error("unknown port name: no error")
	}
}

func TestProbeTCPSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	pr := newProber()
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	if err := pr.probe(context.Background(), probe, "127.0.0.1", &corev1.Container{}); err != nil {
		t.Errorf("open port: %v", err)
	}
	ln.Close()
	if err := pr.probe(context.Background(), probe, "127.0.0.1", &corev1.Container{}); err == nil {
		t.Error("closed port: no error")
	}
}

func TestProbeExecIsRefused(t *testing.T) {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ok"}}}}
	err := newProber().probe(context.Background(), probe, "127.0.0.1", &corev1.Container{})
	if err == nil || !strings.Contains(err.Error(), "exec probes") {
		t.Fatalf("err = %v", err)
	}
}

func TestProberRunOrdersStartupBeforeReadiness(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	get := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}}
	}
	c := &corev1.Container{
		StartupProbe:   &corev1.Probe{ProbeHandler: get("/started"), PeriodSeconds: 1},
		ReadinessProbe: &corev1.Probe{ProbeHandler: get("/ready"), PeriodSeconds: 1},
		LivenessProbe:  &corev1.Probe{ProbeHandler: get("/live"), PeriodSeconds: 1, FailureThreshold: 1},
	}
	reports := make(chan probeReport, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		newProber().run(ctx, host, c, func(r probeReport) { reports <- r })
		close(done)
	}()

	first := <-reports
	if first.kind != probeStartup || !first.success || !first.changed {
		t.Fatalf("first report = %+v, want a startup success", first)
	}
	// Readiness becomes true; liveness fails at once (threshold 1), which
	// ends its loop; readiness goes on until cancelled.
	var ready, unhealthy bool
	for !ready || !unhealthy {
		r := <-reports
		switch {
		case r.kind == probeReadiness && r.success && r.changed:
			ready = true
		case r.kind == probeLiveness && !r.success && r.changed:
			unhealthy = true
		case r.kind == probeStartup:
			t.Fatalf("startup probed again after success: %+v", r)
		}
	}
	cancel()
	<-done
}
