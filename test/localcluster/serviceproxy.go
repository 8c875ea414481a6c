package localcluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// serviceProxy plays kube-proxy: for every Service with a selector and a
// ClusterIP it listens on ClusterIP:port for each TCP port and spreads the
// connections round-robin over the Service's ready pods. ClusterIPs are
// loopback addresses (the API server allocates them from a loopback range),
// so the address a client dials is the Service's own.
type serviceProxy struct {
	log      logr.Logger
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[cache.ObjectName]

	mu      sync.Mutex // guards proxies and stopped
	proxies map[cache.ObjectName]map[int32]*portProxy
	stopped bool
}

func newServiceProxy(services corelisters.ServiceLister, pods corelisters.PodLister, rec record.EventRecorder, log logr.Logger) *serviceProxy {
	return &serviceProxy{
		log:      log,
		services: services,
		pods:     pods,
		recorder: rec,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "serviceproxy"}),
		proxies: map[cache.ObjectName]map[int32]*portProxy{},
	}
}

// serviceHandlers enqueue a Service when it changes.
func (s *serviceProxy) serviceHandlers() cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			s.queue.Add(cache.ObjectName{Namespace: namespaceOf(tomb.Key), Name: nameOf(tomb.Key)})
			return
		}
		if svc, ok := obj.(*corev1.Service); ok {
			s.queue.Add(cache.MetaObjectToName(svc))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}
}

// podHandlers enqueue the Services of a pod's namespace when the pod
// changes: any of them may select it.
func (s *serviceProxy) podHandlers() cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		svcs, err := s.services.Services(pod.Namespace).List(labels.Everything())
		if err != nil {
			return
		}
		for _, svc := range svcs {
			s.queue.Add(cache.MetaObjectToName(svc))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}
}

// run syncs queued Services until ctx ends, then closes every listener.
func (s *serviceProxy) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	for s.next() {
	}
	s.closeAll()
}

func (s *serviceProxy) next() bool {
	key, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(key)
	if err := s.sync(key); err != nil {
		s.log.Error(err, "Cannot proxy service", "service", key.String())
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// sync makes the listeners of one Service match its ports and its backends
// match its ready pods.
func (s *serviceProxy) sync(key cache.ObjectName) error {
	svc, err := s.services.Services(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) || (err == nil && !proxied(svc)) {
		s.closeService(key)
		return nil
	}
	if err != nil {
		return err
	}
	pods, err := s.pods.Pods(svc.Namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	current := s.proxies[key]
	next := map[int32]*portProxy{}
	var errs []error
	for _, port := range svc.Spec.Ports {
		if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
			continue
		}
		addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port.Port)))
		p := current[port.Port]
		if p == nil || p.addr != addr {
			if p != nil {
				p.close()
			}
			p, err = listenPortProxy(addr, s.log.WithValues("service", key.String(), "port", port.Port))
			if err != nil {
				s.recorder.Eventf(svc, corev1.EventTypeWarning, "ProxyListenFailed", "localcluster cannot listen on %s: %v", addr, err)
				errs = append(errs, err)
				continue
			}
		}
		p.setBackends(readyBackends(svc, port, pods))
		next[port.Port] = p
	}
	for port, p := range current {
		if next[port] != p {
			p.close()
		}
	}
	s.proxies[key] = next
	if len(errs) > 0 {
		return fmt.Errorf("listening for service %s: %w", key, errs[0])
	}
	return nil
}

// proxied says whether a Service gets listeners: one with a selector and a
// ClusterIP. Services without a selector (like "kubernetes") have their
// endpoints managed by someone else, which this proxy does not read.
func proxied(svc *corev1.Service) bool {
	ip := svc.Spec.ClusterIP
	return len(svc.Spec.Selector) > 0 && ip != "" && ip != corev1.ClusterIPNone
}

// readyBackends returns pod addresses for one service port, in pod name
// order: pods with an IP that are not terminating and are Ready (or any,
// with publishNotReadyAddresses), as the endpointslice controller selects
// serving endpoints.
func readyBackends(svc *corev1.Service, port corev1.ServicePort, pods []*corev1.Pod) []string {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var out []string
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if !svc.Spec.PublishNotReadyAddresses && !podReady(pod) {
			continue
		}
		target, ok := targetPort(pod, port)
		if !ok {
			continue
		}
		out = append(out, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(target)))
	}
	return out
}

func podReady(pod *corev1.Pod) bool {
	c := findCondition(pod.Status.Conditions, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// targetPort resolves a service port's targetPort for one pod: a number,
// or the name of one of the pod's container ports; unset means the service
// port itself.
func targetPort(pod *corev1.Pod, port corev1.ServicePort) (int, bool) {
	tp := port.TargetPort
	if tp.StrVal == "" {
		if n := tp.IntValue(); n > 0 {
			return n, true
		}
		return int(port.Port), true
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
				return int(cp.ContainerPort), true
			}
		}
	}
	return 0, false
}

func (s *serviceProxy) closeService(key cache.ObjectName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.proxies[key] {
		p.close()
	}
	delete(s.proxies, key)
}

func (s *serviceProxy) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for key, ports := range s.proxies {
		for _, p := range ports {
			p.close()
		}
		delete(s.proxies, key)
	}
}

// address returns the address the proxy listens on for a service port,
// once it does.
func (s *serviceProxy) address(namespace, name string, port int32) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxies[cache.ObjectName{Namespace: namespace, Name: name}][port]
	if p == nil {
		return "", fmt.Errorf("service %s/%s port %d is not proxied (yet): it needs a selector, a ClusterIP and a TCP port %d", namespace, name, port, port)
	}
	return p.addr, nil
}

// backends returns the addresses a service port currently spreads over.
func (s *serviceProxy) backends(namespace, name string, port int32) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proxies[cache.ObjectName{Namespace: namespace, Name: name}][port]
	if p == nil {
		return nil
	}
	return p.currentBackends()
}

func namespaceOf(key string) string {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	return ns
}

func nameOf(key string) string {
	_, name, _ := cache.SplitMetaNamespaceKey(key)
	return name
}
