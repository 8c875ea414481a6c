package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"

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
// once both are listed, again whenever a CacheProxy or a cache pod of the
// namespace changes (API server watches), and every statsInterval with
// every pod's statistics read again. A change reads the statistics of the
// pods it brings (new, or at a new address) and no other. Statistics come
// from each pod's /metrics (no admin token needed) through the API
// server's pods/proxy, as the user: a user without that permission sees
// the fleets without them, and why; one who may not watch pods sees them
// as they were at each refresh. A refusal to list the CacheProxies ends
// the stream with "failure".
func (s *server) serveFleetsStream(w http.ResponseWriter, r *http.Request) {
	st, ok := startStream(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fs := newFleetState(r.URL.Query().Get(namespaceParam))
	failed := make(chan error, 1)
	go func() {
		err := listAndWatch(ctx, s.opts.Client, &cachev1alpha1.CacheProxyList{}, fs.listOptions(), fs.deliverProxies)
		if ctx.Err() == nil {
			failed <- err
		}
	}()
	podsUnwatched := make(chan struct{}, 1)
	go func() {
		// Why the watch ended needs no telling here: the list made at
		// each refresh instead meets the same refusal, if it is one, and
		// the page shows it.
		_ = listAndWatch(ctx, s.opts.Client, &corev1.PodList{}, fs.podListOptions(), fs.deliverPods)
		if ctx.Err() == nil {
			podsUnwatched <- struct{}{}
		}
	}()
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	pollPods := false
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case err := <-failed:
			st.fail(err)
			return
		case <-podsUnwatched:
			// The user may not watch (or list) pods: list them at each
			// refresh, which says why if that is refused too.
			pollPods = true
			s.listPods(ctx, fs)
		case <-fs.changed:
		case <-tick.C:
			all = true
			if pollPods {
				s.listPods(ctx, fs)
			}
		}
		if !fs.ready() {
			continue
		}
		s.readAllStats(ctx, fs, all)
		if st.send("fleets", fs.views()) != nil {
			return // the page went away
		}
	}
}

// listPods lists the cache pods once, for a user who may not watch them.
func (s *server) listPods(ctx context.Context, fs *fleetState) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var pods corev1.PodList
	err := s.opts.Client.List(ctx, &pods, fs.podListOptions()...)
	fs.setPods(&pods, err)
}

// readAllStats reads the statistics of the pods fs has none for, or of
// every pod when all is set, in parallel.
func (s *server) readAllStats(ctx context.Context, fs *fleetState, all bool) {
	var wg sync.WaitGroup
	for _, pod := range fs.podsToRead(all) {
		wg.Go(func() {
			var st podStats
			st.ip = pod.Status.PodIP
			st.err = s.readStats(ctx, pod, &st.row)
			fs.setStats(pod, st)
		})
	}
	wg.Wait()
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
