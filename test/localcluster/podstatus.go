package localcluster

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ownedCondition reports whether the node agent writes conditions of type
// t, as the kubelet does. Others (PodScheduled, readiness gates,
// DisruptionTarget) belong to other writers and are kept as they are.
func ownedCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady:
		return true
	}
	return false
}

// podStatusInput is what the status of a pod is computed from.
type podStatusInput struct {
	pod *corev1.Pod
	// previous is the status last written, if any; transition times and
	// the start time carry over from it, else from pod.Status.
	previous   *corev1.PodStatus
	podIP      string // empty until allocated
	hostIP     string
	containers []corev1.ContainerStatus
	// terminal is set once the pod has been deleted and every container
	// has stopped: the phase becomes Succeeded or Failed.
	terminal bool
	now      metav1.Time
}

// computePodStatus returns the status the node agent reports for a pod.
// Conditions whose status did not change keep their transition time;
// conditions the agent does not own are carried over from pod.Status.
func computePodStatus(in podStatusInput) corev1.PodStatus {
	prev := in.pod.Status
	if in.previous != nil {
		prev = *in.previous
	}
	st := corev1.PodStatus{
		Phase:             podPhase(in.pod.Spec.RestartPolicy, in.containers, in.terminal),
		HostIP:            in.hostIP,
		QOSClass:          in.pod.Status.QOSClass,
		ContainerStatuses: in.containers,
		StartTime:         prev.StartTime,
	}
	if st.StartTime == nil {
		st.StartTime = &in.now
	}
	if in.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: in.hostIP}}
	}
	if in.podIP != "" {
		st.PodIP = in.podIP
		st.PodIPs = []corev1.PodIP{{IP: in.podIP}}
	}

	var unready []string
	for _, c := range in.containers {
		if !c.Ready {
			unready = append(unready, c.Name)
		}
	}
	containersReady := podCondition(corev1.ContainersReady, len(unready) == 0, "ContainersNotReady",
		fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	ready := podCondition(corev1.PodReady, len(unready) == 0, "ContainersNotReady", containersReady.Message)
	if missing := unmetReadinessGates(in.pod); len(unready) == 0 && len(missing) > 0 {
		ready = podCondition(corev1.PodReady, false, "ReadinessGatesNotReady",
			fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not True", missing[0]))
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		containersReady = podCondition(corev1.ContainersReady, false, "PodCompleted", "")
		ready = podCondition(corev1.PodReady, false, "PodCompleted", "")
	}
	owned := []corev1.PodCondition{
		podCondition(corev1.PodReadyToStartContainers, in.podIP != "", "", ""),
		podCondition(corev1.PodInitialized, true, "", ""),
		containersReady,
		ready,
	}
	for _, c := range in.pod.Status.Conditions {
		if !ownedCondition(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	for _, c := range owned {
		if old := findCondition(prev.Conditions, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = in.now
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

// podCondition returns a condition that is True when ok, or False with the
// given reason and message.
func podCondition(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: message}
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// unmetReadinessGates lists the pod's readiness gates whose condition is
// not True.
func unmetReadinessGates(pod *corev1.Pod) []corev1.PodConditionType {
	var missing []corev1.PodConditionType
	for _, g := range pod.Spec.ReadinessGates {
		if c := findCondition(pod.Status.Conditions, g.ConditionType); c == nil || c.Status != corev1.ConditionTrue {
			missing = append(missing, g.ConditionType)
		}
	}
	return missing
}

// podPhase is the kubelet's phase rule for pods without init containers:
// Pending while a container has yet to run, Running while one runs (or
// will be restarted), and Succeeded or Failed once all have stopped for
// good.
func podPhase(policy corev1.RestartPolicy, containers []corev1.ContainerStatus, terminal bool) corev1.PodPhase {
	var running, waiting, stopped, succeeded, stoppedForGood int
	for _, c := range containers {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil:
			stopped++
			if c.State.Terminated.ExitCode == 0 {
				succeeded++
			}
			if !shouldRestart(policy, c.State.Terminated.ExitCode) {
				stoppedForGood++
			}
		case c.LastTerminationState.Terminated != nil:
			// Waiting to restart after an exit.
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if terminal || stopped == stoppedForGood {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		return corev1.PodRunning
	default:
		return corev1.PodPending
	}
}
