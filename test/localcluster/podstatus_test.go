package localcluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func terminated(code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
}

func waitingState(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func TestPodPhase(t *testing.T) {
	crashLooping := corev1.ContainerStatus{State: waitingState("CrashLoopBackOff"), LastTerminationState: terminated(1)}
	tests := []struct {
		name       string
		policy     corev1.RestartPolicy
		containers []corev1.ContainerStatus
		terminal   bool
		want       corev1.PodPhase
	}{
		{"not started", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: waitingState("ContainerCreating")}}, false, corev1.PodPending},
		{"image missing", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: waitingState("ErrImagePull")}}, false, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: running()}}, false, corev1.PodRunning},
		{"one waiting one running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: running()}, {State: waitingState("ContainerCreating")}}, false, corev1.PodPending},
		{"crash loop", corev1.RestartPolicyAlways, []corev1.ContainerStatus{crashLooping}, false, corev1.PodRunning},
		{"always, exited 0", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: terminated(0)}}, false, corev1.PodRunning},
		{"never, exited 0", corev1.RestartPolicyNever, []corev1.ContainerStatus{{State: terminated(0)}}, false, corev1.PodSucceeded},
		{"never, exited 1", corev1.RestartPolicyNever, []corev1.ContainerStatus{{State: terminated(1)}}, false, corev1.PodFailed},
		{"on failure, exited 0", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{{State: terminated(0)}}, false, corev1.PodSucceeded},
		{"on failure, restarting", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{crashLooping}, false, corev1.PodRunning},
		{"deleted, killed", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: terminated(137)}}, true, corev1.PodFailed},
		{"deleted, clean exit", corev1.RestartPolicyAlways, []corev1.ContainerStatus{{State: terminated(0)}}, true, corev1.PodSucceeded},
	}
	for _, tt := range tests {
		if got := podPhase(tt.policy, tt.containers, tt.terminal); got != tt.want {
			t.Errorf("%s: phase = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestComputePodStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	pod := testPod()
	pod.Status = corev1.PodStatus{
		QOSClass: corev1.PodQOSBestEffort,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t0},
			{Type: "example.com/gate", Status: corev1.ConditionTrue, LastTransitionTime: t0},
		},
	}
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}

	notReady := computePodStatus(podStatusInput{
		pod: pod, podIP: "127.9.0.2", hostIP: "127.0.0.1", now: t0,
		containers: []corev1.ContainerStatus{{Name: "proxy", State: running(), Ready: false}},
	})
	if notReady.Phase != corev1.PodRunning || notReady.PodIP != "127.9.0.2" || len(notReady.PodIPs) != 1 ||
		notReady.HostIP != "127.0.0.1" || notReady.QOSClass != corev1.PodQOSBestEffort || !notReady.StartTime.Equal(&t0) {
		t.Fatalf("status = %+v", notReady)
	}
	ready := findCondition(notReady.Conditions, corev1.PodReady)
	if ready.Status != corev1.ConditionFalse || ready.Reason != "ContainersNotReady" || ready.Message != "containers with unready status: [proxy]" {
		t.Fatalf("Ready = %+v", ready)
	}
	if c := findCondition(notReady.Conditions, corev1.PodScheduled); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("PodScheduled not carried over: %+v", notReady.Conditions)
	}

	// Later the container is ready: Ready flips with a new transition time,
	// conditions that did not change keep theirs.
	nowReady := computePodStatus(podStatusInput{
		pod: pod, previous: &notReady, podIP: "127.9.0.2", hostIP: "127.0.0.1", now: t1,
		containers: []corev1.ContainerStatus{{Name: "proxy", State: running(), Ready: true}},
	})
	ready = findCondition(nowReady.Conditions, corev1.PodReady)
	if ready.Status != corev1.ConditionTrue || !ready.LastTransitionTime.Equal(&t1) {
		t.Fatalf("Ready = %+v, want True since t1", ready)
	}
	if init := findCondition(nowReady.Conditions, corev1.PodInitialized); !init.LastTransitionTime.Equal(&t0) {
		t.Fatalf("Initialized moved: %+v", init)
	}
	if !nowReady.StartTime.Equal(&t0) {
		t.Fatalf("StartTime = %v, want t0", nowReady.StartTime)
	}

	// A readiness gate that is not True holds Ready back.
	pod.Status.Conditions[1].Status = corev1.ConditionFalse
	gated := computePodStatus(podStatusInput{
		pod: pod, podIP: "127.9.0.2", now: t1,
		containers: []corev1.ContainerStatus{{Name: "proxy", State: running(), Ready: true}},
	})
	if r := findCondition(gated.Conditions, corev1.PodReady); r.Status != corev1.ConditionFalse || r.Reason != "ReadinessGatesNotReady" {
		t.Fatalf("Ready with unmet gate = %+v", r)
	}
	if r := findCondition(gated.Conditions, corev1.ContainersReady); r.Status != corev1.ConditionTrue {
		t.Fatalf("ContainersReady = %+v", r)
	}
}

func TestComputePodStatusBeforeAddress(t *testing.T) {
	st := computePodStatus(podStatusInput{pod: &corev1.Pod{}, now: metav1.Now(),
		containers: []corev1.ContainerStatus{{Name: "c", State: waitingState("ContainerCreating")}}})
	if st.Phase != corev1.PodPending || st.PodIP != "" || st.PodIPs != nil {
		t.Fatalf("status = %+v", st)
	}
	if c := findCondition(st.Conditions, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
		t.Fatalf("PodReadyToStartContainers = %+v", c)
	}
}

func TestMergeConditions(t *testing.T) {
	ours := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	theirs := []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionFalse},
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
	}
	got := mergeConditions(ours, theirs)
	if len(got) != 2 || findCondition(got, corev1.PodReady).Status != corev1.ConditionTrue ||
		findCondition(got, corev1.DisruptionTarget) == nil {
		t.Fatalf("merged = %+v", got)
	}
}
