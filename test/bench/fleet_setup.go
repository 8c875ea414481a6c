package bench

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// Setting the fleet benchmark up: the namespace, the CacheProxy, scaling
// it to a size and filling every pod.

type fleet struct {
	env        *Env
	o          FleetOptions
	cluster    *localcluster.Cluster
	c          client.WithWatch
	res        *FleetResult
	metrics    *managerMetrics
	originAddr string // the origin as the pods reach it
}

func (f *fleet) setUp(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNamespace}}
	if err := f.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	size := resource.MustParse("128Mi")
	cp := &cachev1alpha1.CacheProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: fleetName},
		Spec: cachev1alpha1.CacheProxySpec{
			Replicas: ptr.To[int32](1),
			Origin:   cachev1alpha1.OriginSpec{URL: "http://" + f.originAddr},
			Hosts:    []string{Host},
			Cache:    cachev1alpha1.CacheSpec{MaxSize: &size},
			// Fifty pods share one node of two cores: requests the
			// scheduler can fit (the default asks 100m CPU and the
			// cache's memory per pod).
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("32Mi"),
			}},
		},
	}
	return f.c.Create(ctx, cp)
}

// scale sets the replicas and waits for n running, ready pods with IPs.
func (f *fleet) scale(ctx context.Context, n int) ([]corev1.Pod, error) {
	cp := &cachev1alpha1.CacheProxy{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: fleetNamespace, Name: fleetName}, cp); err != nil {
		return nil, err
	}
	patch := client.MergeFrom(cp.DeepCopy())
	cp.Spec.Replicas = ptr.To(int32(n))
	if err := f.c.Patch(ctx, cp, patch); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var pods corev1.PodList
		if err := f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), client.MatchingLabels{cachev1alpha1.LabelCacheProxy: fleetName}); err != nil {
			return nil, err
		}
		var ready []corev1.Pod
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.PodIP != "" && podReady(&p) {
				ready = append(ready, p)
			}
		}
		if len(ready) == n && len(pods.Items) == n {
			return ready, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d pods ready after 3 minutes (pod logs in %s)", len(ready), n, f.o.StateDir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fill requests every object from every pod: misses on new pods, hits
// (and refills of what earlier purges removed) on the others.
func (f *fleet) fill(ctx context.Context, pods []corev1.Pod) error {
	for _, p := range pods {
		base := "http://" + p.Status.PodIP + ":8080"
		if err := Fill(ctx, base, 0, f.o.Objects, f.o.FillWorkers, fleetPath); err != nil {
			return fmt.Errorf("filling pod %s: %w", p.Name, err)
		}
	}
	return nil
}
