package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/gateway"
)

// The purge gateway benchmark: a real kube-apiserver and etcd (bin/k8s,
// through envtest), the gateway in this process as the manager runs it
// (cached reads, real TokenReviews, SubjectAccessReviews and server-side
// dry runs), and Varnish-style requests with a ServiceAccount token, each
// naming a tag of its own, sent open loop at fixed rates and then closed
// loop as fast as the gateway answers. A watch on Purges records when each
// Purge appeared, so request→Purge-created is measured from outside the
// gateway.

// GatewayOptions configure the purge gateway benchmark.
type GatewayOptions struct {
	// Rates are the open-loop request rates, per second.
	Rates []int
	// Duration is how long each rate (and the closed loop) sends.
	Duration time.Duration
	// Clients is the number of closed-loop clients.
	Clients int
	// EnvtestDir holds kube-apiserver and etcd (bin/k8s).
	EnvtestDir string
	// CRDDir holds the CRD manifests.
	CRDDir string
}

// GatewayResult is what the benchmark measured.
type GatewayResult struct {
	WindowMillis float64      `json:"coalesceWindowMillis"`
	Runs         []GatewayRun `json:"runs"`
}

// GatewayRun is one load: Rate requests a second (0: closed loop).
type GatewayRun struct {
	Rate     int     `json:"rate"`
	Clients  int     `json:"clients,omitempty"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Purges   int     `json:"purges"`
	// Answered is answers per second over the run.
	Answered float64 `json:"answeredPerSecond"`
	// Answer is request due (open loop) or sent (closed loop) → answer
	// received.
	Answer Summary `json:"answer"`
	// Created is request due or sent → its Purge seen by a watch.
	Created Summary `json:"created"`
	// CPUMicrosPerRequest is the CPU time this process (the gateway and
	// the load generator; not kube-apiserver or etcd) spent per request:
	// what the gateway costs whatever else the machine runs.
	CPUMicrosPerRequest float64 `json:"cpuMicrosPerRequest"`
	// FirstError is the first failure, if any.
	FirstError string `json:"firstError,omitempty"`
}

// RunGateway runs the purge gateway benchmark.
func RunGateway(ctx context.Context, env *Env, o GatewayOptions) (*GatewayResult, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := cachev1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	te := &envtest.Environment{BinaryAssetsDirectory: o.EnvtestDir, CRDDirectoryPaths: []string{o.CRDDir}, ErrorIfCRDPathMissing: true}
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	defer func() { _ = te.Stop() }()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	const ns, sa = "bench", "cms"
	token, err := gatewayFixture(ctx, c, ns, sa)
	if err != nil {
		return nil, err
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, err
	}
	g, err := gateway.SetupWithManager(mgr, gateway.Options{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-mgrDone; err != nil {
			env.Logf("gateway: the manager stopped with %v", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the manager's cache did not sync")
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			env.Logf("gateway: serving stopped with %v", err)
		}
	}()

	seen, stopWatch, err := watchPurges(ctx, c, ns)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	l := &gatewayLoad{
		url:   "http://" + ln.Addr().String() + "/",
		host:  "edge-purge." + ns + ".svc:8090",
		token: token,
		seen:  seen,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy: nil, MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096}},
	}
	res := &GatewayResult{WindowMillis: float64(gateway.DefaultCoalesceWindow) / float64(time.Millisecond)}
	for i, rate := range o.Rates {
		env.Logf("gateway: %d requests/s for %s", rate, o.Duration)
		res.Runs = append(res.Runs, l.run(ctx, fmt.Sprintf("r%d", i), rate, 0, o.Duration))
	}
	env.Logf("gateway: %d clients as fast as it answers for %s", o.Clients, o.Duration)
	res.Runs = append(res.Runs, l.run(ctx, "closed", 0, o.Clients, o.Duration))
	return res, ctx.Err()
}

// gatewayFixture creates the namespace, its CacheProxy "edge", and a
// ServiceAccount that may create Purges there, and returns its token.
func gatewayFixture(ctx context.Context, c client.Client, ns, sa string) (string, error) {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&cachev1alpha1.CacheProxy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge"}, Spec: cachev1alpha1.CacheProxySpec{
			Origin: cachev1alpha1.OriginSpec{URL: "http://web:8080"}, Hosts: []string{"www.example.com"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "purger"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{cachev1alpha1.GroupVersion.Group}, Resources: []string{"purges"}, Verbs: []string{"create"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "purger"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	tr := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if err := c.SubResource("token").Create(ctx, objs[2], tr); err != nil {
		return "", fmt.Errorf("requesting a token: %w", err)
	}
	return tr.Status.Token, nil
}

// watchPurges records when each Purge of ns first appeared.
func watchPurges(ctx context.Context, c client.WithWatch, ns string) (func(name string) (time.Time, bool), func(), error) {
	w, err := c.Watch(ctx, &cachev1alpha1.PurgeList{}, client.InNamespace(ns))
	if err != nil {
		return nil, nil, fmt.Errorf("watching Purges: %w", err)
	}
	var mu sync.Mutex
	seen := map[string]time.Time{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			if p, ok := ev.Object.(*cachev1alpha1.Purge); ok {
				mu.Lock()
				seen[p.Name] = time.Now()
				mu.Unlock()
			}
		}
	}()
	lookup := func(name string) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		t, ok := seen[name]
		return t, ok
	}
	return lookup, func() { w.Stop(); <-done }, nil
}

// gatewayLoad sends the benchmark's requests.
type gatewayLoad struct {
	url, host, token string
	client           *http.Client
	seen             func(string) (time.Time, bool)
}

// sample is one request's fate.
type sample struct {
	sent, answered time.Time
	purge          string
	err            error
}

// run sends for d: open loop at rate per second, or closed loop with
// clients when rate is 0.
func (l *gatewayLoad) run(ctx context.Context, label string, rate, clients int, d time.Duration) GatewayRun {
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
	)
	// one sends request i, due at (zero: now).
	one := func(i int, at time.Time) {
		s := l.send(ctx, fmt.Sprintf("%s-%d", label, i), at)
		mu.Lock()
		samples = append(samples, s)
		mu.Unlock()
	}
	cpuBefore := processCPU()
	start := time.Now()
	end := start.Add(d)
	if rate > 0 {
		// Open loop: requests are due every interval, sent by a pool of
		// senders that keep their connections (a goroutine and a dial
		// per request cost this process more than the gateway does), and
		// timed from when they were due, so a sender that falls behind
		// shows as latency rather than as a lower rate.
		type due struct {
			i  int
			at time.Time
		}
		queue := make(chan due, rate)
		for range min(max(rate, 16), 2048) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range queue {
					one(r.i, r.at)
				}
			}()
		}
		interval := time.Second / time.Duration(rate)
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(end) || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Until(at))
			queue <- due{i, at}
		}
		close(queue)
	} else {
		var next int
		var nextMu sync.Mutex
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) && ctx.Err() == nil {
					nextMu.Lock()
					i := next
					next++
					nextMu.Unlock()
					one(i, time.Time{})
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpuBefore
	// The watch may trail the last answers by a moment.
	deadline := time.Now().Add(5 * time.Second)
	run := GatewayRun{Rate: rate, Clients: clients, Seconds: elapsed.Seconds(), Requests: len(samples)}
	var answers, created []time.Duration
	purges := map[string]bool{}
	for _, s := range samples {
		if s.err != nil {
			run.Errors++
			if run.FirstError == "" {
				run.FirstError = s.err.Error()
			}
			continue
		}
		answers = append(answers, s.answered.Sub(s.sent))
		purges[s.purge] = true
		for {
			if t, ok := l.seen(s.purge); ok {
				created = append(created, max(0, t.Sub(s.sent)))
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	run.Purges = len(purges)
	if len(samples) > 0 {
		run.CPUMicrosPerRequest = float64(cpu.Microseconds()) / float64(len(samples))
	}
	run.Answered = float64(len(answers)) / elapsed.Seconds()
	run.Answer, run.Created = Summarize(answers), Summarize(created)
	return run
}

// send sends one Varnish-style PURGE of one tag, as Shopware does; its
// latency counts from due, or from now if due is zero.
func (l *gatewayLoad) send(ctx context.Context, tag string, due time.Time) sample {
	s := sample{sent: due}
	if due.IsZero() {
		s.sent = time.Now()
	}
	req, err := http.NewRequestWithContext(ctx, "PURGE", l.url, nil)
	if err != nil {
		s.err = err
		return s
	}
	req.Host = l.host
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("xkey", tag)
	resp, err := l.client.Do(req)
	if err != nil {
		s.err = err
		return s
	}
	// Read to the end, so the connection is used again: a client that
	// dials per request would measure its own dialling.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	s.answered = time.Now()
	if resp.StatusCode != http.StatusOK {
		s.err = fmt.Errorf("status %d", resp.StatusCode)
		return s
	}
	s.purge, _, _ = strings.Cut(resp.Header.Get("X-Purge-Name"), ",")
	return s
}

// clients is the closed loop's number of clients.
func (r *GatewayResult) clients() int {
	for _, run := range r.Runs {
		if run.Rate == 0 {
			return run.Clients
		}
	}
	return 0
}

func (r *GatewayResult) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "## Purge gateway\n\n")
	fmt.Fprintf(b, "Varnish-style PURGE requests (one xkey tag each, one ServiceAccount token) to the gateway in-process against a real kube-apiserver and etcd; "+
		"coalescing window %.0f ms. Open loop at each rate (a pool of senders; latency counts from when each request was due), then closed loop. *answer*: request due → answer; "+
		"*created*: request sent → its Purge seen by a watch. Milliseconds. Every answer waits for its batch to close, so the closed loop's rate is bounded by "+
		"clients ÷ window (%d ÷ %.0f ms), not by the gateway. *CPU/request*: CPU time of the process serving the gateway and sending the load "+
		"(not kube-apiserver or etcd) per request, in microseconds: the gateway's cost whatever else the machine runs.\n\n", r.WindowMillis, r.clients(), r.WindowMillis)
	b.WriteString("| load | requests | errors | Purges | answered/s | answer p50 | answer p99 | created p50 | created p99 | CPU/request µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, run := range r.Runs {
		load := fmt.Sprintf("%d req/s", run.Rate)
		if run.Rate == 0 {
			load = fmt.Sprintf("closed loop, %d clients", run.Clients)
		}
		fmt.Fprintf(b, "| %s | %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", load, run.Requests, run.Errors, run.Purges,
			run.Answered, run.Answer.P50, run.Answer.P99, run.Created.P50, run.Created.P99, run.CPUMicrosPerRequest)
	}
	for _, run := range r.Runs {
		if run.FirstError != "" {
			fmt.Fprintf(b, "\nFirst error at %d req/s: %s\n", run.Rate, run.FirstError)
		}
	}
	b.WriteString("\n")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
