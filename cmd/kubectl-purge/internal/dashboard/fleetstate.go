package dashboard

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/kubectl/pkg/util/podutils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// fleetState is what one Fleets stream knows: the CacheProxies and cache
// pods its watches delivered, and the statistics last read from each pod.
// A change rebuilds the views from it without asking the API server again
// for what it already told.
type fleetState struct {
	namespace string
	// changed holds a note that something changed; one pending note is
	// enough.
	changed chan struct{}

	mu      sync.Mutex // guards the fields below
	proxies map[types.NamespacedName]*cachev1alpha1.CacheProxy
	pods    map[types.NamespacedName]*corev1.Pod
	// proxiesListed and podsListed are set once each was listed (or,
	// for the pods, refused).
	proxiesListed, podsListed bool
	// podsErr is the API server's refusal to list the pods.
	podsErr error
	stats   map[types.NamespacedName]podStats
}

// podStats is the last read of a pod's statistics: for the pod at ip,
// what it gave, or why it failed.
type podStats struct {
	ip  string
	row podRow
	err error
}

func newFleetState(namespace string) *fleetState {
	return &fleetState{
		namespace: namespace,
		changed:   make(chan struct{}, 1),
		proxies:   map[types.NamespacedName]*cachev1alpha1.CacheProxy{},
		pods:      map[types.NamespacedName]*corev1.Pod{},
		stats:     map[types.NamespacedName]podStats{},
	}
}

// listOptions select the CacheProxies of the namespace.
func (fs *fleetState) listOptions() []client.ListOption {
	return []client.ListOption{client.InNamespace(fs.namespace)}
}

// podListOptions select the cache pods of the namespace: every pod of a
// CacheProxy carries its name in LabelCacheProxy, and other pods are none
// of the page's business.
func (fs *fleetState) podListOptions() []client.ListOption {
	return []client.ListOption{client.InNamespace(fs.namespace), client.HasLabels{cachev1alpha1.LabelCacheProxy}}
}

func (fs *fleetState) poke() {
	select {
	case fs.changed <- struct{}{}:
	default:
	}
}

func (fs *fleetState) deliverProxies(wd watched) error {
	fs.mu.Lock()
	apply(fs.proxies, wd)
	fs.proxiesListed = true
	fs.mu.Unlock()
	fs.poke()
	return nil
}

func (fs *fleetState) deliverPods(wd watched) error {
	fs.mu.Lock()
	apply(fs.pods, wd)
	fs.podsListed, fs.podsErr = true, nil
	fs.mu.Unlock()
	fs.poke()
	return nil
}

// setPods sets the pods to those of a list, or to none and err when the
// list was refused.
func (fs *fleetState) setPods(list *corev1.PodList, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.podsListed, fs.podsErr = true, err
	clear(fs.pods)
	if err == nil {
		for i := range list.Items {
			fs.pods[client.ObjectKeyFromObject(&list.Items[i])] = &list.Items[i]
		}
	}
}

// apply brings objects, by namespace and name, up to date with what a
// watch delivered.
func apply[T client.Object](objects map[types.NamespacedName]T, wd watched) {
	if wd.Reset {
		clear(objects)
	}
	for _, o := range wd.Objects {
		objects[client.ObjectKeyFromObject(o)] = o.(T)
	}
	if wd.Object == nil {
		return
	}
	if wd.Event == watch.Deleted {
		delete(objects, client.ObjectKeyFromObject(wd.Object))
	} else {
		objects[client.ObjectKeyFromObject(wd.Object)] = wd.Object.(T)
	}
}

// ready reports whether both lists came: a view before that would show
// fleets without their pods.
func (fs *fleetState) ready() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.proxiesListed && fs.podsListed
}

// podsToRead are the pods of the fleets whose statistics are to be read:
// every pod with an address when all is set, else those read never or at
// another address.
func (fs *fleetState) podsToRead(all bool) []*corev1.Pod {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []*corev1.Pod
	for _, cp := range fs.proxies {
		pods, _ := fs.podsOf(cp)
		for _, pod := range pods {
			if pod.Status.PodIP == "" {
				continue
			}
			if st, ok := fs.stats[client.ObjectKeyFromObject(pod)]; all || !ok || st.ip != pod.Status.PodIP {
				out = append(out, pod)
			}
		}
	}
	return out
}

// setStats keeps what a read of pod's statistics gave.
func (fs *fleetState) setStats(pod *corev1.Pod, st podStats) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stats[client.ObjectKeyFromObject(pod)] = st
}

// podsOf are the pods a CacheProxy selects (status.selector).
func (fs *fleetState) podsOf(cp *cachev1alpha1.CacheProxy) ([]*corev1.Pod, error) {
	if cp.Status.Selector == "" {
		return nil, nil
	}
	sel, err := labels.Parse(cp.Status.Selector)
	if err != nil {
		return nil, fmt.Errorf("status.selector %q: %w", cp.Status.Selector, err)
	}
	var pods []*corev1.Pod
	for _, pod := range fs.pods {
		if pod.Namespace == cp.Namespace && sel.Matches(labels.Set(pod.Labels)) {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}

// views are the fleets as the page shows them, sorted by namespace and
// name. Statistics of pods that are gone are forgotten.
func (fs *fleetState) views() []fleetView {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for key := range fs.stats {
		if _, ok := fs.pods[key]; !ok {
			delete(fs.stats, key)
		}
	}
	fleets := make([]fleetView, 0, len(fs.proxies))
	for _, cp := range fs.proxies {
		fleets = append(fleets, fs.viewOf(cp))
	}
	slices.SortFunc(fleets, func(a, b fleetView) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return fleets
}

func (fs *fleetState) viewOf(cp *cachev1alpha1.CacheProxy) fleetView {
	f := fleetView{
		Namespace:     cp.Namespace,
		Name:          cp.Name,
		Replicas:      cp.Status.Replicas,
		ReadyReplicas: cp.Status.ReadyReplicas,
		Hosts:         cp.Spec.Hosts,
		Origin:        cp.Spec.Origin.URL,
		Available:     "Unknown",
		Pods:          []podRow{},
	}
	if c := meta.FindStatusCondition(cp.Status.Conditions, cachev1alpha1.CacheProxyConditionAvailable); c != nil {
		f.Available = string(c.Status)
	}
	if cp.Spec.Cache.MaxSize != nil {
		f.CacheSize = cp.Spec.Cache.MaxSize.String()
	}
	if fs.podsErr != nil {
		_, body := errorBody(fs.podsErr)
		f.PodsError = body.Message
		return f
	}
	pods, err := fs.podsOf(cp)
	if err != nil {
		f.PodsError = err.Error()
		return f
	}
	for _, pod := range pods {
		row := podRow{Name: pod.Name, IP: pod.Status.PodIP, Ready: podutils.IsPodReady(pod), Phase: string(pod.Status.Phase)}
		if st, ok := fs.stats[client.ObjectKeyFromObject(pod)]; ok && st.ip == pod.Status.PodIP {
			row.Objects, row.HitRatio, row.Bytes = st.row.Objects, st.row.HitRatio, st.row.Bytes
			if st.err != nil {
				_, body := errorBody(st.err)
				if apierrors.IsForbidden(st.err) { // the same for every pod: say it once
					f.StatsError = body.Message
				} else {
					row.Error = body.Message
				}
			}
		}
		f.Pods = append(f.Pods, row)
	}
	slices.SortFunc(f.Pods, func(a, b podRow) int { return strings.Compare(a.Name, b.Name) })
	return f
}
