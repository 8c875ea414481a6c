package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// nodeAgent plays the kubelet of the one node: it keeps one podWorker per
// pod bound to the node, fed by the pod informer.
type nodeAgent struct {
	nodeName string
	hostIP   string
	podDir   string // per-pod log files and scratch directories
	images   map[string]string
	// restartBase and restartMax shape each container's restart back-off.
	restartBase, restartMax time.Duration
	// stopGrace caps the grace period when the whole cluster stops.
	stopGrace time.Duration

	log       logr.Logger
	clientset kubernetes.Interface
	recorder  record.EventRecorder
	spawner   *spawner
	pool      *addressPool
	prober    *prober

	ctx context.Context // cancelled when the cluster stops

	mu      sync.Mutex // guards workers, done and stopped
	workers map[types.UID]*podWorker
	// done remembers pods whose worker has finished, so an informer event
	// that trails the deletion does not start a second worker.
	done     map[types.UID]bool
	stopped  bool
	finished sync.WaitGroup // one per worker goroutine
}

// handlers returns the informer callbacks that route pod events to workers.
func (a *nodeAgent) handlers() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(obj) },
		UpdateFunc: func(_, obj any) { a.podChanged(obj) },
		DeleteFunc: a.podDeleted,
	}
}

func (a *nodeAgent) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.nodeName {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.done[pod.UID] {
		return
	}
	w, ok := a.workers[pod.UID]
	if !ok {
		w = newPodWorker(a, pod)
		a.workers[pod.UID] = w
		a.finished.Add(1)
		go func() {
			defer a.finished.Done()
			w.run(a.ctx)
			a.mu.Lock()
			delete(a.workers, pod.UID)
			a.done[pod.UID] = true
			a.mu.Unlock()
		}()
	}
	w.update(pod)
}

func (a *nodeAgent) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.markGone()
	}
}

// stop ends every worker, which stops every process; ctx must already be
// cancelled.
func (a *nodeAgent) stop() {
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
	a.finished.Wait()
}

// worker finds the worker of a pod by name.
func (a *nodeAgent) worker(namespace, name string) (*podWorker, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.namespace == namespace && w.name == name {
			return w, nil
		}
	}
	return nil, fmt.Errorf("pod %s/%s does not run on node %s", namespace, name, a.nodeName)
}

// signalPod sends sig to every running container process of a pod.
func (a *nodeAgent) signalPod(namespace, name string, sig syscall.Signal) error {
	w, err := a.worker(namespace, name)
	if err != nil {
		return err
	}
	return w.control(controlRequest{signal: sig})
}

// podProcesses returns the process id of each running container of a pod.
func (a *nodeAgent) podProcesses(namespace, name string) (map[string]int, error) {
	w, err := a.worker(namespace, name)
	if err != nil {
		return nil, err
	}
	var pids map[string]int
	err = w.control(controlRequest{pids: &pids})
	return pids, err
}

// podLogPath is where a pod's containers write their output.
func (a *nodeAgent) podLogPath(pod *corev1.Pod) string {
	return filepath.Join(a.podDir, fmt.Sprintf("%s_%s_%s.log", pod.Namespace, pod.Name, pod.UID))
}

// podScratchDir is the working directory of a pod's processes: a fresh
// directory per pod, as a container starts in its own filesystem.
func (a *nodeAgent) podScratchDir(pod *corev1.Pod) string {
	return filepath.Join(a.podDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// Secret and ConfigMap make the agent the configSource of env resolution;
// like the kubelet, it reads them from the API server when a container
// starts.
func (a *nodeAgent) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return a.clientset.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a *nodeAgent) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return a.clientset.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

// ensureDir creates dir if needed.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
