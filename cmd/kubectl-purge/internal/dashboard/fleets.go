package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/util/podutils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
	"github.com/cacheops/purge-operator/controllers/fleet"
)

// statsTimeout bounds the read of one pod's metrics.
const statsTimeout = 5 * time.Second

// fleetView is a CacheProxy and its pods, as the Fleets page shows them.
type fleetView struct {
	Namespace     string   `json:"namespace"`
	Name          string   `json:"name"`
	Replicas      int32    `json:"replicas"`
	ReadyReplicas int32    `json:"readyReplicas"`
	Available     string   `json:"available"`
	Hosts         []string `json:"hosts"`
	Origin        string   `json:"origin"`
	CacheSize     string   `json:"cacheSize"`
	Pods          []podRow `json:"pods"`
	// PodsError is the API server's refusal to list the pods.
	PodsError string `json:"podsError,omitempty"`
	// StatsError says why the pods' cache statistics are missing: the
	// API server's refusal of pods/proxy, most often.
	StatsError string `json:"statsError,omitempty"`
}

// podRow is one pod of a fleet with the statistics its admin port's
// metrics give, read through the API server's pod proxy.
type podRow struct {
	Name  string `json:"name"`
	IP    string `json:"ip"`
	Ready bool   `json:"ready"`
	Phase string `json:"phase"`
	// Objects is the number of stored objects; nil when unknown.
	Objects *int64 `json:"objects,omitempty"`
	// HitRatio is hits / (hits + misses + stale + revalidated +
	// collapsed) since the pod started; nil when unknown or no request
	// was cached yet.
	HitRatio *float64 `json:"hitRatio,omitempty"`
	// Bytes is the memory charged to stored objects.
	Bytes *int64 `json:"bytes,omitempty"`
	Error string `json:"error,omitempty"`
}

// statsInterval is how often the Fleets stream reads the pods' statistics
// again: counters cannot be watched.
const statsInterval = 5 * time.Second

// serveFleetsStream streams the CacheProxies of a namespace with their
// pods and each pod's cache statistics: a "fleets" event with all of them
// when the stream starts, whenever a CacheProxy or a pod of the namespace
// changes (API server watches), and every statsInterval for the
// statistics. Statistics come from each pod's /metrics (no admin token
// needed) through the API server's pods/proxy, as the user: a user without
// that permission sees the fleets without them, and why; one who may not
// watch pods sees them as they were at each refresh. A refusal to list the
// CacheProxies ends the stream with "failure".
func (s *server) serveFleetsStream(w http.ResponseWriter, r *http.Request) {
	st, ok := startStream(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ns := r.URL.Query().Get(namespaceParam)
	changed := make(chan struct{}, 1)
	// poke notes a change (one pending note is enough) and ends the
	// watches once the stream has ended.
	poke := func(watched) error {
		select {
		case changed <- struct{}{}:
		default:
		}
		return ctx.Err()
	}
	failed := make(chan error, 1)
	go func() {
		err := listAndWatch(ctx, s.opts.Client, &cachev1alpha1.CacheProxyList{}, []client.ListOption{client.InNamespace(ns)}, poke)
		if ctx.Err() == nil {
			failed <- err
		}
	}()
	go func() {
		_ = listAndWatch(ctx, s.opts.Client, &corev1.PodList{}, []client.ListOption{client.InNamespace(ns)}, poke)
	}()
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-failed:
			st.fail(err)
			return
		case <-changed:
		case <-tick.C:
		}
		fleets, err := s.fleets(ctx, ns)
		if err != nil {
			st.fail(err)
			return
		}
		if st.send("fleets", fleets) != nil {
			return // the page went away
		}
	}
}

// fleets lists the CacheProxies of a namespace with their pods and each
// pod's cache statistics.
func (s *server) fleets(ctx context.Context, ns string) ([]fleetView, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var list cachev1alpha1.CacheProxyList
	if err := s.opts.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	fleets := make([]fleetView, len(list.Items))
	var wg sync.WaitGroup
	for i := range list.Items {
		wg.Go(func() { fleets[i] = s.fleetOf(ctx, &list.Items[i]) })
	}
	wg.Wait()
	slices.SortFunc(fleets, func(a, b fleetView) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return fleets, nil
}

func (s *server) fleetOf(ctx context.Context, cp *cachev1alpha1.CacheProxy) fleetView {
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
	if cp.Status.Selector == "" {
		return f
	}
	sel, err := labels.Parse(cp.Status.Selector)
	if err != nil {
		f.PodsError = fmt.Sprintf("status.selector %q: %v", cp.Status.Selector, err)
		return f
	}
	var pods corev1.PodList
	if err := s.opts.Client.List(ctx, &pods, client.InNamespace(cp.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		_, body := errorBody(err)
		f.PodsError = body.Message
		return f
	}
	f.Pods = make([]podRow, len(pods.Items))
	var wg sync.WaitGroup
	var mu sync.Mutex // guards f.StatsError
	for i := range pods.Items {
		pod := &pods.Items[i]
		f.Pods[i] = podRow{Name: pod.Name, IP: pod.Status.PodIP, Ready: podutils.IsPodReady(pod), Phase: string(pod.Status.Phase)}
		if pod.Status.PodIP == "" {
			continue
		}
		wg.Go(func() {
			if err := s.readStats(ctx, pod, &f.Pods[i]); err != nil {
				_, body := errorBody(err)
				if apierrors.IsForbidden(err) { // the same for every pod: say it once
					mu.Lock()
					f.StatsError = body.Message
					mu.Unlock()
					return
				}
				f.Pods[i].Error = body.Message
			}
		})
	}
	wg.Wait()
	slices.SortFunc(f.Pods, func(a, b podRow) int { return strings.Compare(a.Name, b.Name) })
	return f
}

// readStats reads a pod's cache statistics from its admin port's
// /metrics through the API server's pod proxy.
func (s *server) readStats(ctx context.Context, pod *corev1.Pod, row *podRow) error {
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	body, err := s.kube.CoreV1().Pods(pod.Namespace).
		ProxyGet("http", pod.Name, fmt.Sprint(fleet.AdminPort(pod)), admin.MetricsPath, nil).DoRaw(ctx)
	if err != nil {
		return err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("reading the metrics of pod %s: %w", pod.Name, err)
	}
	gauge := func(name string) *int64 {
		mf := families[name]
		if mf == nil || len(mf.Metric) == 0 {
			return nil
		}
		v := int64(mf.Metric[0].GetGauge().GetValue())
		return &v
	}
	row.Objects, row.Bytes = gauge("cacheproxy_objects"), gauge("cacheproxy_bytes")
	if mf := families["cacheproxy_requests_total"]; mf != nil {
		var hits, cached float64
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() != "cache" {
					continue
				}
				switch v := m.GetCounter().GetValue(); l.GetValue() {
				case "hit":
					hits += v
					cached += v
				case "miss", "stale", "revalidated", "collapsed":
					cached += v
				}
			}
		}
		if cached > 0 {
			ratio := hits / cached
			row.HitRatio = &ratio
		}
	}
	return nil
}
