package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	fleetnames "github.com/cacheops/purge-operator/controllers/fleet"
)

// What the fleet benchmark reads besides its own timings: the manager's
// metrics, the pods' logs and the API server's answer times.

// managerHistograms are the operator's histograms read around each size:
// its admin calls to pods, the time a Purge waits in the controller's
// queue, and the time of one reconcile.
var managerHistograms = map[string]string{
	"podCall":   `purge_operator_pod_call_duration_seconds{result="success"}`,
	"queue":     `workqueue_queue_duration_seconds{controller="purge",name="purge"}`,
	"reconcile": `controller_runtime_reconcile_time_seconds{controller="purge"}`,
}

// histogramTotals is the count and sum of each managerHistograms entry.
type histogramTotals map[string][2]float64

// meanMillis is the mean of a histogram between two scrapes, in ms.
func meanMillis(before, after histogramTotals, name string) (mean, count float64) {
	n := after[name][0] - before[name][0]
	if n <= 0 {
		return 0, 0
	}
	return (after[name][1] - before[name][1]) / n * 1000, n
}

// scrape reads the count and sum of managerHistograms from the manager's
// metrics.
func (m *managerMetrics) scrape(ctx context.Context) (histogramTotals, error) {
	resp, err := m.get(ctx)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := histogramTotals{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for key, series := range managerHistograms {
			name, labels, _ := strings.Cut(series, "{")
			for i, suffix := range []string{"_count", "_sum"} {
				if v, ok := strings.CutPrefix(line, name+suffix+"{"+labels+" "); ok {
					t := out[key]
					t[i], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
					out[key] = t
				}
			}
		}
	}
	return out, sc.Err()
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// podTimes fills in FirstPodMillis and LastPodMillis of the Purges timed
// at size n from the pods' logs: cacheproxy logs each invalidation when it
// is done, with its id ("<purge uid>/<generation>") and a millisecond
// timestamp. The kubelet's log files prefix each line with their own time
// and stream, which the field scan skips.
func (f *fleet) podTimes(ctx context.Context, n int) {
	done := map[string][]time.Time{} // uid → when each pod finished
	var pods corev1.PodList
	if err := f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), client.MatchingLabels{cachev1alpha1.LabelCacheProxy: fleetName}); err != nil {
		f.env.Logf("fleet: listing pods for their logs: %v", err)
		return
	}
	for _, pod := range pods.Items {
		path, err := f.cluster.PodLogPath(fleetNamespace, pod.Name)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if !strings.Contains(line, "msg=Invalidation ") {
				continue
			}
			var at time.Time
			var uid string
			for field := range strings.FieldsSeq(line) {
				if v, ok := strings.CutPrefix(field, "time="); ok {
					at, _ = time.Parse(time.RFC3339Nano, v)
				}
				if v, ok := strings.CutPrefix(field, "id="); ok {
					uid, _, _ = strings.Cut(v, "/")
				}
			}
			if uid != "" && !at.IsZero() {
				done[uid] = append(done[uid], at)
			}
		}
	}
	for i := range f.res.Purges {
		fp := &f.res.Purges[i]
		ts := done[fp.UID]
		if fp.Pods != n || len(ts) == 0 {
			continue
		}
		first, last := ts[0], ts[0]
		for _, t := range ts {
			if t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
		fp.FirstPodMillis = float64(first.Sub(fp.Created)) / float64(time.Millisecond)
		fp.LastPodMillis = float64(last.Sub(fp.Created)) / float64(time.Millisecond)
	}
}

// The API reads apiReads times.
const (
	readListPods           = "list pods (consistent)"
	readListPodsAfterWrite = "list pods (consistent) right after another write"
	readListPodsCached     = "list pods (resourceVersion=0)"
	readGetSecret          = "get secret"
)

// apiReads times the reads the Purge controller makes before its pod
// calls, the way it makes them (uncached: a LIST of the fleet's pods and a
// GET of the token Secret), and a LIST served from the API server's watch
// cache (resourceVersion "0") for comparison. A reconcile's LIST follows
// the Purge's creation, a write to another resource; "right after another
// write" reproduces that with a ConfigMap update just before the LIST
// (not timed).
func (f *fleet) apiReads(ctx context.Context) (map[string]Summary, error) {
	const samples = 20
	sel := client.MatchingLabels{cachev1alpha1.LabelCacheProxy: fleetName}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: "bench-writes"}}
	if err := f.c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	write := 0
	var timed time.Duration // set by a read that times only part of itself
	reads := map[string]func() error{
		readListPods: func() error {
			var pods corev1.PodList
			return f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), sel)
		},
		readListPodsAfterWrite: func() error {
			write++
			cm.Data = map[string]string{"n": strconv.Itoa(write)}
			if err := f.c.Update(ctx, cm); err != nil {
				return err
			}
			start := time.Now()
			var pods corev1.PodList
			err := f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), sel)
			timed = time.Since(start)
			return err
		},
		readListPodsCached: func() error {
			var pods corev1.PodList
			return f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), sel, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}})
		},
		readGetSecret: func() error {
			var s corev1.Secret
			return f.c.Get(ctx, client.ObjectKey{Namespace: fleetNamespace, Name: fleetnames.TokenSecretName(fleetName)}, &s)
		},
	}
	out := map[string]Summary{}
	for name, read := range reads {
		var ds []time.Duration
		for range samples {
			timed = 0
			start := time.Now()
			if err := read(); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if timed == 0 {
				timed = time.Since(start)
			}
			ds = append(ds, timed)
			time.Sleep(10 * time.Millisecond) // spaced like reconciles, not back to back
		}
		out[name] = Summarize(ds)
	}
	return out, nil
}
