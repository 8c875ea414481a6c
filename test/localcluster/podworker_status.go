package localcluster

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// apiTime is t as the API server stores it, to the second, so a status
// computed twice from the same facts compares equal to what was written.
func apiTime(t time.Time) metav1.Time {
	return metav1.NewTime(t.Truncate(time.Second))
}

// currentStatus computes the pod's status from the worker's state.
func (w *podWorker) currentStatus(terminal bool) corev1.PodStatus {
	containers := make([]corev1.ContainerStatus, 0, len(w.containers))
	for _, c := range w.containers {
		containers = append(containers, c.status())
	}
	in := podStatusInput{
		pod:        w.pod,
		previous:   w.written,
		hostIP:     w.agent.hostIP,
		containers: containers,
		terminal:   terminal,
		now:        apiTime(time.Now()),
	}
	if w.ip.IsValid() {
		in.podIP = w.ip.String()
	}
	return computePodStatus(in)
}

// writeStatus writes the pod's status if it changed since the last write,
// retrying on conflicts, and reports whether the API server now has it. A
// failed write is retried a second later.
func (w *podWorker) writeStatus(ctx context.Context, terminal bool) bool {
	status := w.currentStatus(terminal)
	if w.written != nil && equality.Semantic.DeepEqual(*w.written, status) {
		return true
	}
	pods := w.agent.clientset.CoreV1().Pods(w.namespace)
	pod, first := w.pod, true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			live, err := pods.Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod = live
		}
		first = false
		if pod.UID != w.uid {
			return apierrors.NewNotFound(corev1.Resource("pods"), w.name)
		}
		next := pod.DeepCopy()
		next.Status = status
		next.Status.Conditions = mergeConditions(status.Conditions, pod.Status.Conditions)
		updated, err := pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		w.pod = updated
		return nil
	})
	if err != nil {
		if ctx.Err() == nil && !apierrors.IsNotFound(err) {
			w.log.Error(err, "Cannot write pod status")
		}
		w.retryAt = time.Now().Add(time.Second)
		return false
	}
	w.written = &status
	w.retryAt = time.Time{}
	return true
}

// mergeConditions returns the agent's own conditions from ours and every
// other condition from theirs, the object's current status.
func mergeConditions(ours, theirs []corev1.PodCondition) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range theirs {
		if !ownedCondition(c.Type) {
			out = append(out, c)
		}
	}
	for _, c := range ours {
		if ownedCondition(c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// deletePod removes the pod object once its containers have stopped, as the
// kubelet finalises a graceful deletion: grace period 0, and only this pod
// (a pod recreated under the same name has another UID).
func (w *podWorker) deletePod(ctx context.Context) (done bool) {
	uid := w.uid
	err := w.agent.clientset.CoreV1().Pods(w.namespace).Delete(ctx, w.name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		w.log.Info("Pod deleted")
		return true
	}
	if ctx.Err() == nil {
		w.log.Error(err, "Cannot delete pod")
	}
	w.retryAt = time.Now().Add(time.Second)
	return false
}
