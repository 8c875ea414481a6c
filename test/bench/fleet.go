package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// Purge latency across a fleet: the local cluster of test/localcluster with
// the operator (bin/manager) next to it, one CacheProxy scaled to each
// size in turn, every pod filled with Objects objects straight through its
// pod IP, then Purges created one after another with the API client. The
// time of a Purge is from just before the client's Create to the moment a
// watch, opened beforehand, delivers the Purge with its Complete condition
// true: client-side monotonic clock, the user's view of "purged".

// FleetOptions sizes the fleet benchmark.
type FleetOptions struct {
	Sizes          []int  `json:"sizes"`
	Objects        int    `json:"objectsPerPod"`
	Purges         int    `json:"purgesPerKind"`
	FillWorkers    int    `json:"fillWorkers"`
	KubectlSamples int    `json:"kubectlSamples"`
	StateDir       string `json:"-"`
	CRDDir         string `json:"-"`
}

// Kinds of Purge timed across the fleet.
const (
	FleetSimple  = "simple-10-urls"
	FleetBan     = "ban"
	FleetRefetch = "refetch-10-urls"
)

// FleetKinds is the order kinds alternate in.
var FleetKinds = []string{FleetSimple, FleetBan, FleetRefetch}

// FleetPurge is one timed Purge.
type FleetPurge struct {
	Pods         int       `json:"pods"`
	Kind         string    `json:"kind"`
	Name         string    `json:"name"`
	UID          string    `json:"uid"`
	Created      time.Time `json:"created"` // just before the create call
	Millis       float64   `json:"createToCompleteMillis"`
	CreateMillis float64   `json:"createCallMillis"`
	// AddedMillis is when the watch delivered the new Purge (ADDED).
	AddedMillis float64 `json:"createToWatchAddedMillis"`
	// FirstPodMillis and LastPodMillis are when the first and the last
	// pod logged the invalidation as done (pod logs, millisecond
	// timestamps, same clock).
	FirstPodMillis float64 `json:"createToFirstPodMillis"`
	LastPodMillis  float64 `json:"createToLastPodMillis"`
	Phase          string  `json:"phase"`
	Matched        int64   `json:"objectsMatched"`
	Invalidated    int64   `json:"objectsInvalidated"`
	Refetched      int64   `json:"objectsRefetched"`
}

// FleetSize is what one fleet size measured.
type FleetSize struct {
	Pods        int                `json:"pods"`
	ReadySecs   float64            `json:"scaleToReadySeconds"`
	FillSeconds float64            `json:"fillSeconds"`
	Latency     map[string]Summary `json:"createToCompleteMillis"`
	// PodCallMillis is the operator's mean admin call latency over this
	// size's Purges, from its purge_operator_pod_call_duration_seconds.
	PodCallMillis float64 `json:"podCallMeanMillis"`
	PodCalls      float64 `json:"podCalls"`
	// QueueMillis is the mean time a Purge waited in the controller's
	// queue and ReconcileMillis the mean reconcile, over Reconciles
	// reconciles (controller-runtime's metrics).
	// APIReads times, from the benchmark's own client, the API reads a
	// reconcile makes before it calls the pods.
	APIReads        map[string]Summary `json:"apiReadMillis"`
	QueueMillis     float64            `json:"queueMeanMillis"`
	ReconcileMillis float64            `json:"reconcileMeanMillis"`
	Reconciles      float64            `json:"reconciles"`
	// Where the time goes, over every kind: create → ADDED event, → first
	// pod done, → last pod done (see FleetPurge).
	Added    Summary `json:"createToWatchAddedMillis"`
	FirstPod Summary `json:"createToFirstPodMillis"`
	LastPod  Summary `json:"createToLastPodMillis"`
}

// FleetResult is the whole fleet benchmark.
type FleetResult struct {
	Options      FleetOptions `json:"options"`
	ClusterStart float64      `json:"clusterStartSeconds"`
	Sizes        []FleetSize  `json:"sizes"`
	Purges       []FleetPurge `json:"purges"`
	// Kubectl: `kubectl create -f -` of a Purge, its wall time and the
	// create→Complete time seen from before kubectl started, next to the
	// API client's Create call at the same size.
	KubectlPods     int     `json:"kubectlPods"`
	KubectlCreate   Summary `json:"kubectlCreateMillis"`
	KubectlComplete Summary `json:"kubectlCreateToCompleteMillis"`
	ClientCreate    Summary `json:"clientCreateMillis"`
}

const (
	fleetNamespace = "bench"
	fleetName      = "edge"
)

func fleetPath(i int) string {
	return "/fleet/g" + strconv.Itoa(i/100) + "/o" + strconv.Itoa(i)
}

// RunFleet runs the fleet benchmark.
func RunFleet(ctx context.Context, env *Env, o FleetOptions) (*FleetResult, error) {
	res := &FleetResult{Options: o}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := cachev1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cacheproxy, err := filepath.Abs(filepath.Join(env.BinDir, "cacheproxy"))
	if err != nil {
		return nil, err
	}
	env.Logf("fleet: starting the local cluster (state in %s)", o.StateDir)
	began := time.Now()
	_ = os.RemoveAll(o.StateDir) // logs of the previous run
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:            filepath.Join(env.BinDir, "k8s"),
		StateDir:          o.StateDir,
		Images:            map[string]string{"cacheproxy": cacheproxy},
		CRDDirectoryPaths: []string{o.CRDDir},
		Scheme:            scheme,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			env.Logf("fleet: stopping the cluster: %v", err)
		}
	}()
	metricsPort, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	manager, err := cluster.StartHostProcess("manager", filepath.Join(env.BinDir, "manager"), []string{
		"--health-probe-bind-address=0",
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort),
		"--metrics-secure=false",
		"--cacheproxy-listen-on-pod-ip",
	})
	if err != nil {
		return nil, err
	}
	defer manager.Stop()
	res.ClusterStart = time.Since(began).Seconds()
	metricsURL := "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics"

	wc, err := client.NewWithWatch(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	f := &fleet{env: env, o: o, cluster: cluster, c: wc, res: res, metricsURL: metricsURL}
	if err := f.setUp(ctx); err != nil {
		return res, err
	}
	for _, n := range o.Sizes {
		if err := f.size(ctx, n); err != nil {
			return res, fmt.Errorf("%d pods: %w", n, err)
		}
	}
	return res, nil
}

type fleet struct {
	env        *Env
	o          FleetOptions
	cluster    *localcluster.Cluster
	c          client.WithWatch
	res        *FleetResult
	metricsURL string
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
			Origin:   cachev1alpha1.OriginSpec{URL: "http://" + f.env.OriginAddr},
			Hosts:    []string{Host},
			Cache:    cachev1alpha1.CacheSpec{MaxSize: &size},
		},
	}
	return f.c.Create(ctx, cp)
}

// size scales the fleet to n ready pods, fills them, and times the Purges.
func (f *fleet) size(ctx context.Context, n int) error {
	sz := FleetSize{Pods: n, Latency: map[string]Summary{}}
	began := time.Now()
	pods, err := f.scale(ctx, n)
	if err != nil {
		return err
	}
	sz.ReadySecs = time.Since(began).Seconds()
	f.env.Logf("fleet: %d pods ready in %.1fs; filling each with %d objects", n, sz.ReadySecs, f.o.Objects)
	began = time.Now()
	if err := f.fill(ctx, pods); err != nil {
		return err
	}
	sz.FillSeconds = time.Since(began).Seconds()

	w, err := newPurgeWatch(ctx, f.c)
	if err != nil {
		return err
	}
	defer w.stop()
	before, _ := scrapeManager(ctx, f.metricsURL)
	times := map[string][]time.Duration{}
	var creates []time.Duration
	for seq := range f.o.Purges {
		for _, kind := range FleetKinds {
			p := f.purgeFor(n, kind, seq)
			fp, create, err := f.timePurge(ctx, w, p, nil)
			if err != nil {
				return err
			}
			fp.Pods, fp.Kind = n, kind
			f.res.Purges = append(f.res.Purges, fp)
			times[kind] = append(times[kind], time.Duration(fp.Millis*float64(time.Millisecond)))
			creates = append(creates, create)
		}
	}
	f.podTimes(n)
	if after, err := scrapeManager(ctx, f.metricsURL); err == nil && before != nil {
		sz.PodCallMillis, sz.PodCalls = meanMillis(before, after, "podCall")
		sz.QueueMillis, sz.Reconciles = meanMillis(before, after, "queue")
		sz.ReconcileMillis, _ = meanMillis(before, after, "reconcile")
	}
	var added, first, last []time.Duration
	for _, fp := range f.res.Purges {
		if fp.Pods == n {
			added = append(added, msDuration(fp.AddedMillis))
			first, last = append(first, msDuration(fp.FirstPodMillis)), append(last, msDuration(fp.LastPodMillis))
		}
	}
	sz.Added, sz.FirstPod, sz.LastPod = Summarize(added), Summarize(first), Summarize(last)
	for _, kind := range FleetKinds {
		sz.Latency[kind] = Summarize(times[kind])
		f.env.Logf("fleet: %d pods, %-16s p50 %s ms  p95 %s ms  max %s ms", n, kind,
			fmtMs(sz.Latency[kind].P50), fmtMs(sz.Latency[kind].P95), fmtMs(sz.Latency[kind].Max))
	}
	if sz.APIReads, err = f.apiReads(ctx); err != nil {
		return err
	}
	if f.res.KubectlPods == 0 && (n >= 10 || n == f.o.Sizes[len(f.o.Sizes)-1]) && f.o.KubectlSamples > 0 {
		if err := f.kubectl(ctx, w, n, creates); err != nil {
			return err
		}
	}
	f.res.Sizes = append(f.res.Sizes, sz)
	return nil
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
		if err := f.c.List(ctx, &pods, client.InNamespace(fleetNamespace), client.MatchingLabels{controllers.LabelCacheProxy: fleetName}); err != nil {
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

// purgeFor is the seq-th Purge of a kind at a fleet size. Simple purges
// take objects from the start of the range, refetches from a tenth in,
// bans take 100-object groups from the middle, so no Purge finds its
// objects already gone within one size.
func (f *fleet) purgeFor(pods int, kind string, seq int) *cachev1alpha1.Purge {
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{Namespace: fleetNamespace, Name: fmt.Sprintf("p%d-%s-%d", pods, kind, seq)},
		Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: fleetName}},
	}
	urls := func(base int) []string {
		out := make([]string, 10)
		for j := range out {
			out[j] = "https://" + Host + fleetPath(base+seq*10+j)
		}
		return out
	}
	switch kind {
	case FleetSimple:
		p.Spec.Mode, p.Spec.URLs = cachev1alpha1.PurgeModeSimple, urls(0)
	case FleetRefetch:
		p.Spec.Mode, p.Spec.URLs, p.Spec.Refetch = cachev1alpha1.PurgeModeSimple, urls(f.o.Objects/10), true
	case FleetBan:
		groups := max(f.o.Objects/100, 2)
		g := groups/2 + seq%(groups/2)
		p.Spec.Mode, p.Spec.URLs = cachev1alpha1.PurgeModeBan, []string{"https://" + Host + "/fleet/g" + strconv.Itoa(g) + "/"}
	}
	return p
}

// timePurge creates p (with create, or the API client when nil) and waits
// for the watch to report it finished. It returns the Purge's timing and
// the duration of the create itself.
func (f *fleet) timePurge(ctx context.Context, w *purgeWatch, p *cachev1alpha1.Purge, create func() error) (FleetPurge, time.Duration, error) {
	fp := FleetPurge{Name: p.Name}
	added, done := w.expect(p.Name)
	start := time.Now()
	fp.Created = start
	var err error
	if create == nil {
		err = f.c.Create(ctx, p)
	} else {
		err = create()
	}
	createTook := time.Since(start)
	if err != nil {
		return fp, 0, fmt.Errorf("creating purge %s: %w", p.Name, err)
	}
	select {
	case ev := <-done:
		fp.Millis = float64(ev.at.Sub(start)) / float64(time.Millisecond)
		fp.CreateMillis = float64(createTook) / float64(time.Millisecond)
		fp.UID = string(ev.purge.UID)
		select {
		case a := <-added:
			fp.AddedMillis = float64(a.Sub(start)) / float64(time.Millisecond)
		default:
		}
		st := ev.purge.Status
		fp.Phase, fp.Matched, fp.Invalidated, fp.Refetched = string(st.Phase), st.ObjectsMatched, st.ObjectsInvalidated, st.ObjectsRefetched
		if st.Phase != cachev1alpha1.PurgeComplete {
			return fp, createTook, fmt.Errorf("purge %s ended %s: %+v", p.Name, st.Phase, st.Pods)
		}
	case <-time.After(60 * time.Second):
		return fp, createTook, fmt.Errorf("purge %s not finished after 60s (manager log: %s)", p.Name, f.cluster.LogPath("manager"))
	case <-ctx.Done():
		return fp, createTook, ctx.Err()
	}
	return fp, createTook, nil
}

// kubectl times `kubectl create -f -` for a few Purges, next to the API
// client's own Create calls at this size.
func (f *fleet) kubectl(ctx context.Context, w *purgeWatch, n int, clientCreates []time.Duration) error {
	var walls, completes []time.Duration
	for seq := range f.o.KubectlSamples {
		p := f.purgeFor(n, FleetSimple, f.o.Purges+seq)
		p.Name = fmt.Sprintf("kubectl%d-%d", n, seq)
		manifest := fmt.Sprintf("apiVersion: cache.cacheops.io/v1alpha1\nkind: Purge\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  cacheProxyRef:\n    name: %s\n  mode: simple\n  urls:\n", p.Name, fleetNamespace, fleetName)
		for _, u := range p.Spec.URLs {
			manifest += "  - " + u + "\n"
		}
		var wall time.Duration
		fp, _, err := f.timePurge(ctx, w, p, func() error {
			start := time.Now()
			cmd := exec.CommandContext(ctx, f.cluster.KubectlPath(), "--kubeconfig", f.cluster.KubeconfigPath(), "create", "-f", "-")
			cmd.Stdin = strings.NewReader(manifest)
			out, err := cmd.CombinedOutput()
			wall = time.Since(start)
			if err != nil {
				return fmt.Errorf("kubectl create: %w: %s", err, out)
			}
			return nil
		})
		if err != nil {
			return err
		}
		walls = append(walls, wall)
		completes = append(completes, time.Duration(fp.Millis*float64(time.Millisecond)))
	}
	f.res.KubectlPods = n
	f.res.KubectlCreate, f.res.KubectlComplete, f.res.ClientCreate = Summarize(walls), Summarize(completes), Summarize(clientCreates)
	f.env.Logf("fleet: kubectl create %s ms (API client Create %s ms); kubectl create→Complete p50 %s ms",
		fmtMs(f.res.KubectlCreate.P50), fmtMs(f.res.ClientCreate.P50), fmtMs(f.res.KubectlComplete.P50))
	return nil
}

// purgeWatch delivers, for each expected Purge name, the first watch event
// in which it is finished (Complete or Failed condition true).
type purgeWatch struct {
	w  watch.Interface
	mu sync.Mutex // guards want and added
	// want maps a Purge name to the channel its finishing event goes to,
	// added to the one its ADDED event's time goes to.
	want  map[string]chan finished
	added map[string]chan time.Time
}

type finished struct {
	at    time.Time
	purge *cachev1alpha1.Purge
}

func newPurgeWatch(ctx context.Context, c client.WithWatch) (*purgeWatch, error) {
	w, err := c.Watch(ctx, &cachev1alpha1.PurgeList{}, client.InNamespace(fleetNamespace))
	if err != nil {
		return nil, err
	}
	pw := &purgeWatch{w: w, want: map[string]chan finished{}, added: map[string]chan time.Time{}}
	go pw.run()
	return pw, nil
}

func (pw *purgeWatch) run() {
	for ev := range pw.w.ResultChan() {
		at := time.Now()
		p, ok := ev.Object.(*cachev1alpha1.Purge)
		if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
			continue
		}
		if ev.Type == watch.Added {
			pw.mu.Lock()
			if ch := pw.added[p.Name]; ch != nil {
				ch <- at
				delete(pw.added, p.Name)
			}
			pw.mu.Unlock()
		}
		if !meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionComplete) &&
			!meta.IsStatusConditionTrue(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed) {
			continue
		}
		pw.mu.Lock()
		ch := pw.want[p.Name]
		delete(pw.want, p.Name)
		pw.mu.Unlock()
		if ch != nil {
			ch <- finished{at: at, purge: p}
		}
	}
}

func (pw *purgeWatch) expect(name string) (added <-chan time.Time, done <-chan finished) {
	ch := make(chan finished, 1)
	a := make(chan time.Time, 1)
	pw.mu.Lock()
	pw.want[name], pw.added[name] = ch, a
	pw.mu.Unlock()
	return a, ch
}

func (pw *purgeWatch) stop() { pw.w.Stop() }

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

// scrapeManager reads the count and sum of managerHistograms from the
// manager's metrics.
func scrapeManager(ctx context.Context, url string) (histogramTotals, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := quickClient.Do(req)
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
// timestamp.
func (f *fleet) podTimes(n int) {
	done := map[string][]time.Time{} // uid → when each pod finished
	logs, _ := filepath.Glob(filepath.Join(f.o.StateDir, "pods", "*.log"))
	for _, path := range logs {
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
	sel := client.MatchingLabels{controllers.LabelCacheProxy: fleetName}
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
			return f.c.Get(ctx, client.ObjectKey{Namespace: fleetNamespace, Name: fleetName + "-admin-token"}, &s)
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
