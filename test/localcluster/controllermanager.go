package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// controllerManagerReadyTimeout bounds the wait for kube-controller-manager
// to show it runs.
const controllerManagerReadyTimeout = time.Minute

// startControllerManager runs kube-controller-manager with the admin
// kubeconfig and no serving port, no leader election and no per-controller
// service accounts: the configuration checked against v1.37 to turn
// Deployments into running Pods.
func startControllerManager(sp *spawner, binDir, kubeconfig, logPath string, controllers []string) (*process, error) {
	p, err := sp.start(processSpec{
		Path: filepath.Join(binDir, "kube-controller-manager"),
		Args: []string{
			"--kubeconfig=" + kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
			"--use-service-account-credentials=false",
			"--controllers=" + strings.Join(controllers, ","),
		},
		LogPath: logPath,
	})
	if err != nil {
		return nil, fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	return p, nil
}

// waitControllerManager returns once kube-controller-manager has shown it
// works. With no serving port there is no health endpoint; when the
// serviceaccount controller runs, the "default" ServiceAccount it creates
// in the default namespace is the sign. It fails early if the process
// exits.
func waitControllerManager(ctx context.Context, cs kubernetes.Interface, p *process, controllers []string, logPath string) error {
	if !slices.Contains(controllers, "serviceaccount-controller") {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, controllerManagerReadyTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	sas := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault)
	selector := fields.OneTermEqualSelector("metadata.name", "default").String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return sas.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return sas.Watch(ctx, o)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Added, nil
	})
	select {
	case <-p.Done():
		return fmt.Errorf("kube-controller-manager exited (%s); see %s", p.ExitState(), logPath)
	default:
	}
	if err != nil {
		return fmt.Errorf("waiting for kube-controller-manager to create the default ServiceAccount (see %s): %w", logPath, err)
	}
	return nil
}
