package e2e_test

import (
	"context"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// timeline is every state of a namespace's Deployments, Pods and Purges
// that watches saw, each with the test's clock and the write's etcd
// revision (its resourceVersion). resourceVersions are opaque to clients
// in general; on etcd, which the local cluster runs, one is the revision
// of the write, which orders every write of the cluster, whatever the
// object: the strict "happened before" that whole-second timestamps
// cannot give.
type timeline struct {
	ns string

	mu   sync.Mutex // guards seen
	seen []observation
}

type observation struct {
	seenAt
	obj client.Object
}

// seenAt is when the test saw a write, and the write's etcd revision.
type seenAt struct {
	at       time.Time
	revision int64
}

// watchNamespace starts watching ns; the watches outlive the node that
// starts them (a BeforeAll's context ends with it) and stop with its
// cleanup (an Ordered container's, after its last spec).
func watchNamespace(ns string) *timeline {
	GinkgoHelper()
	wc, err := client.NewWithWatch(cluster.RESTConfig(), client.Options{Scheme: newScheme()})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	t := &timeline{ns: ns}
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &corev1.PodList{}, &cachev1alpha1.PurgeList{}} {
		w, err := wc.Watch(ctx, list, client.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Stop)
		go t.record(w)
	}
	return t
}

func (t *timeline) record(w watch.Interface) {
	for ev := range w.ResultChan() {
		obj, ok := ev.Object.(client.Object)
		if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
			continue
		}
		rv, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
		if err != nil {
			continue
		}
		t.mu.Lock()
		t.seen = append(t.seen, observation{seenAt{time.Now(), rv}, obj})
		t.mu.Unlock()
	}
}

// first is the first observation for which match is true, nil if none.
func (t *timeline) first(match func(client.Object) bool) *seenAt {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.seen {
		if match(o.obj) {
			return &o.seenAt
		}
	}
	return nil
}

// rolloutComplete is when Deployment web was first seen rolled out at
// revision.
func (t *timeline) rolloutComplete(revision string) *seenAt {
	return t.first(func(o client.Object) bool {
		d, ok := o.(*appsv1.Deployment)
		return ok && d.Name == "web" && d.Annotations[deploymentRevision] == revision && rolledOut(d)
	})
}

// created is when the Purge name was first seen.
func (t *timeline) created(name string) *seenAt {
	return t.first(func(o client.Object) bool {
		p, ok := o.(*cachev1alpha1.Purge)
		return ok && p.Name == name
	})
}

// readyPod is a pod as it was first seen Ready. With minReadySeconds 0,
// Ready is available.
type readyPod struct {
	name string
	// readySince is its Ready condition's lastTransitionTime.
	readySince time.Time
	// revision is the etcd revision of the write that made it Ready.
	revision int64
}

// podsBecameReady is the pods of pod-template-hash hash that became
// ready, in the order they did.
func (t *timeline) podsBecameReady(hash string) []readyPod {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ready []readyPod
	done := map[string]bool{}
	for _, o := range t.seen {
		p, ok := o.obj.(*corev1.Pod)
		if !ok || done[p.Name] || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, readyPod{name: p.Name, readySince: c.LastTransitionTime.Time, revision: o.revision})
				done[p.Name] = true
			}
		}
	}
	return ready
}
