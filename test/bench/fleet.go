package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/internal/product"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// Purge latency across a fleet: the local cluster of test/localcluster (a
// real node: every cache pod a container of the cacheproxy image, under
// kubelet, containerd and runc) with the operator installed from
// dist/install.yaml, its manager a pod of the manager image (see
// fleet_operator.go), one CacheProxy scaled to each size in turn, every pod filled with
// Objects objects straight through its pod IP, then Purges created one
// after another with the API client. The
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
	// RepoDir is the repository, whose dist/install.yaml installs the
	// operator.
	RepoDir string `json:"-"`
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
	// OperatorAvailable is from kubectl apply of dist/install.yaml to the
	// manager's Deployment Available.
	OperatorAvailable float64      `json:"operatorAvailableSeconds"`
	Sizes             []FleetSize  `json:"sizes"`
	Purges            []FleetPurge `json:"purges"`
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
	images, err := localcluster.ImagesIn(filepath.Join(env.BinDir, "images"))
	if err != nil {
		return nil, err
	}
	env.Logf("fleet: starting the local cluster (state in %s)", o.StateDir)
	began := time.Now()
	_ = os.RemoveAll(o.StateDir) // logs of the previous run
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:        filepath.Join(env.BinDir, "k8s"),
		StateDir:      o.StateDir,
		ImageArchives: images,
		Scheme:        scheme,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			env.Logf("fleet: stopping the cluster: %v", err)
		}
	}()
	res.ClusterStart = time.Since(began).Seconds()
	env.Logf("fleet: cluster up in %.1fs; installing the operator from %s", res.ClusterStart, product.InstallManifest)
	began = time.Now()
	if err := installOperator(ctx, cluster, o.RepoDir); err != nil {
		return nil, err
	}
	res.OperatorAvailable = time.Since(began).Seconds()

	// The shared origin listens on loopback, which in a pod is the pod
	// itself: serve it on the host's address as pods see it too.
	originAddr, stopOrigin, err := serveOriginOn(ctx, env.Origin, cluster.HostIP().String())
	if err != nil {
		return nil, err
	}
	defer stopOrigin()

	wc, err := client.NewWithWatch(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	f := &fleet{env: env, o: o, cluster: cluster, c: wc, res: res, originAddr: originAddr}
	if err := f.setUp(ctx); err != nil {
		return res, err
	}
	if f.metrics, err = newManagerMetrics(ctx, wc); err != nil {
		return res, err
	}
	for _, n := range o.Sizes {
		if err := f.size(ctx, n); err != nil {
			return res, fmt.Errorf("%d pods: %w", n, err)
		}
	}
	return res, nil
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
	before, _ := f.metrics.scrape(ctx)
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
	f.podTimes(ctx, n)
	if after, err := f.metrics.scrape(ctx); err == nil && before != nil {
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
		return fp, createTook, fmt.Errorf("purge %s not finished after 60s (the manager's log: kubectl logs -n %s deployment/%s, or under %s)",
			p.Name, product.Namespace, product.Deployment, localcluster.PodLogsDir(f.o.StateDir))
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
