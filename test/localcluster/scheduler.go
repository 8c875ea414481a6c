package localcluster

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// scheduler binds unscheduled pods to the one node, as a scheduler with a
// single candidate would. A pod whose nodeSelector the node does not match
// stays Pending with PodScheduled False, reason Unschedulable. Affinity,
// taints and resource fit are not considered.
type scheduler struct {
	nodeName   string
	nodeLabels labels.Set
	clientset  kubernetes.Interface
	pods       corelisters.PodLister
	recorder   record.EventRecorder
	log        logr.Logger
	queue      workqueue.TypedRateLimitingInterface[cache.ObjectName]
}

func newScheduler(nodeName string, nodeLabels map[string]string, cs kubernetes.Interface, pods corelisters.PodLister, rec record.EventRecorder, log logr.Logger) *scheduler {
	return &scheduler{
		nodeName:   nodeName,
		nodeLabels: nodeLabels,
		clientset:  cs,
		pods:       pods,
		recorder:   rec,
		log:        log,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "scheduler"}),
	}
}

// handlers enqueue pods waiting for a node.
func (s *scheduler) handlers() cache.ResourceEventHandler {
	return cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			pod, ok := obj.(*corev1.Pod)
			return ok && needsScheduling(pod)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.queue.Add(cache.MetaObjectToName(obj.(*corev1.Pod))) },
			UpdateFunc: func(_, obj any) { s.queue.Add(cache.MetaObjectToName(obj.(*corev1.Pod))) },
		},
	}
}

func needsScheduling(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == corev1.DefaultSchedulerName)
}

// run binds queued pods until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	for s.next(ctx) {
	}
}

func (s *scheduler) next(ctx context.Context) bool {
	key, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(key)
	if err := s.schedule(ctx, key); err != nil {
		if ctx.Err() == nil {
			s.log.Error(err, "Cannot schedule pod", "pod", key.String())
		}
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

func (s *scheduler) schedule(ctx context.Context, key cache.ObjectName) error {
	pod, err := s.pods.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !needsScheduling(pod) {
		return nil
	}
	if !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(s.nodeLabels) {
		return s.markUnschedulable(ctx, pod)
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: s.nodeName},
	}
	err = s.clientset.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		// Bound by someone else meanwhile, or gone.
		return nil
	}
	if err != nil {
		return fmt.Errorf("binding pod %s to %s: %w", key, s.nodeName, err)
	}
	s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, s.nodeName)
	return nil
}

func (s *scheduler) markUnschedulable(ctx context.Context, pod *corev1.Pod) error {
	msg := fmt.Sprintf("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector (node %s).", s.nodeName)
	if c := findCondition(pod.Status.Conditions, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse && c.Message == msg {
		return nil
	}
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	pods := s.clientset.CoreV1().Pods(pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cond := corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now(),
		}
		var conds []corev1.PodCondition
		for _, c := range live.Status.Conditions {
			if c.Type != corev1.PodScheduled {
				conds = append(conds, c)
			}
		}
		live.Status.Conditions = append(conds, cond)
		live.Status.Phase = corev1.PodPending
		_, err = pods.UpdateStatus(ctx, live, metav1.UpdateOptions{})
		return err
	})
}
