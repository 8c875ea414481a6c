package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/util/podutils"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/internal/product"
)

// Names the samples use.
const (
	namespace      = "default"
	cacheProxyName = "edge"
	replicas       = 3
	servicePort    = 8080
)

// tour is the narrated walk through the product. Every claim it makes is
// checked; failures are collected, not fatal, unless the next steps
// cannot run without the failed one.
type tour struct {
	n   *narrator
	env *environment
	web *web

	checks   int
	failures []string

	pods    []pod  // the CacheProxy's pods, by name, once ready
	service string // the Service's "clusterIP:port"
}

// pod is one cache pod, reached at its own IP as the tour warms and
// inspects each cache.
type pod struct{ name, ip string }

func (p pod) addr() string { return net.JoinHostPort(p.ip, strconv.Itoa(servicePort)) }

// check records a claim: ✓ msg if ok, ✗ msg and why otherwise.
func (t *tour) check(ok bool, msg, why string) bool {
	t.checks++
	if ok {
		t.n.pass(msg)
		return true
	}
	if why != "" {
		msg += ": " + why
	}
	t.failures = append(t.failures, msg)
	t.n.fail(msg)
	return false
}

// run is the whole tour; an error means it could not go on.
func (t *tour) run(ctx context.Context) error {
	t.intro()
	if err := t.setUp(ctx); err != nil {
		return err
	}
	if err := t.cacheProxy(ctx); err != nil {
		return err
	}
	if t.env.opts.NoTour {
		return nil
	}
	for i, s := range t.purgeSteps() {
		t.n.title(fmt.Sprintf("[%d/%d] %s", i+2, t.stepCount(), s.title))
		if err := t.purge(ctx, s); err != nil {
			return err
		}
		t.checkOperator(ctx)
	}
	if t.hasDeployStep() {
		if err := t.deploy(ctx, t.stepCount(), t.stepCount()); err != nil {
			return err
		}
		t.checkOperator(ctx)
	}
	if !t.hasPlugin() {
		t.n.println("")
		t.n.say("(%s is not built, so the kubectl purge step is skipped; make build builds it.)",
			relPath(filepath.Join(t.env.opts.BinDir, "kubectl-purge")))
	}
	if !t.hasDeployStep() {
		t.n.println("")
		t.n.say("(%s is not built, so the deploy step is skipped; make images builds it.)", relPath(t.demoOriginArchive()))
	}
	return nil
}

// stepCount is how many numbered steps the tour has: the CacheProxy, the
// Purge steps, and the deploy step if it runs.
func (t *tour) stepCount() int {
	n := 1 + len(t.purgeSteps())
	if t.hasDeployStep() {
		n++
	}
	return n
}

// purgeSteps are the Purge samples, then the kubectl plugin if built.
func (t *tour) purgeSteps() []purgeStep {
	if t.hasPlugin() {
		return append(slices.Clone(purgeSteps), pluginStep)
	}
	return purgeSteps
}

// hasPlugin reports whether bin/kubectl-purge is built; kubectl finds it
// because the tour runs kubectl with the bin directory on PATH.
func (t *tour) hasPlugin() bool {
	_, err := os.Stat(filepath.Join(t.env.opts.BinDir, "kubectl-purge"))
	return err == nil
}

// checkOperator reports, as a failed check, restarts of the operator's
// container since it last looked: the kubelet restarts an operator that
// crashed, so the tour goes on, but a crash is a failure.
func (t *tour) checkOperator(ctx context.Context) {
	pods, err := t.env.operatorPods(ctx)
	if err != nil {
		t.check(false, "the operator's pod", err.Error())
		return
	}
	var restarts int32
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			restarts += c.RestartCount
		}
	}
	if restarts > t.env.operatorRestarts {
		t.env.operatorRestarts = restarts
		t.check(false, fmt.Sprintf("the operator's container restarted (%d restarts)", restarts), "see "+operatorLogsCommand+" --previous")
	}
}

func (t *tour) intro() {
	e := t.env
	t.n.println(t.n.style(styleBold, "purge-operator demo"))
	t.n.say("The operator runs fleets of caching proxies (CacheProxy) and purges them")
	t.n.say("declaratively (Purge). Everything below runs for real on this machine: a local")
	t.n.say("single-node Kubernetes cluster (kubelet, containerd and runc; no Docker, no")
	t.n.say("registry), the operator installed from dist/install.yaml and run from its own")
	t.n.say("image, cache pods running the cacheproxy image, a demo origin, and the samples")
	t.n.say("of config/samples, applied with kubectl.")
	t.n.say("kubectl is %s, with KUBECONFIG=%s.", relPath(filepath.Join(e.opts.BinDir, "k8s", "kubectl")), relPath(filepath.Join(e.opts.StateDir, "kubeconfig")))
	t.n.say("Logs: %s/ (cluster, origin), %s/ (every pod).", relPath(e.logDir()), relPath(e.podLogDir()))
}

// setUp starts the cluster and the origin, and installs the operator.
func (t *tour) setUp(ctx context.Context) error {
	e := t.env
	t.n.title("Setting up")
	took, err := t.n.wait(ctx, "starting the control plane, containerd, the kubelet, kube-proxy and CoreDNS", e.startCluster)
	if err != nil {
		return fmt.Errorf("starting the local cluster: %w", err)
	}
	t.check(true, fmt.Sprintf("local Kubernetes cluster up in %s (Services on %s, pods on %s)",
		seconds(took), e.cluster.ServiceCIDR(), e.cluster.PodCIDR()), "")

	if err := e.startOrigin(ctx); err != nil {
		return err
	}
	t.check(true, fmt.Sprintf("demo origin at %s: a small shop whose pages say \"version N\",", e.originURL), "")
	t.n.say("  N counting the origin's renders of that URL (log: %s)", relPath(e.originLog.Name()))
	return t.installOperator(ctx)
}

// installOperator installs the product as a user does, with kubectl apply
// of dist/install.yaml (the CRDs, the operator's namespace, ServiceAccount
// and RBAC, its Deployment and Services), and waits for the operator.
func (t *tour) installOperator(ctx context.Context) error {
	e := t.env
	m, err := e.operatorManifest()
	if err != nil {
		return err
	}
	t.n.say("Installing the operator as users do, from %s%s:", m.Source, m.note())
	applied := m.Applied
	if filepath.IsAbs(applied) {
		applied = relPath(applied)
	}
	t.n.command("kubectl apply --server-side -f " + applied)
	out, err := e.kubectl.run(ctx, "apply", "--server-side", "-f", applied)
	e.operatorApplied = true
	if err != nil {
		t.n.output(out)
		return fmt.Errorf("installing the operator: %w", err)
	}
	t.n.output(applySummary(out))
	if _, err := e.kubectl.run(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"); err != nil {
		return fmt.Errorf("the product's CRDs: %w", err)
	}
	if _, err := t.kubectlRun(ctx, "waiting for the operator's pod to be ready", "wait", "--for=condition=Available",
		"deployment/"+product.Deployment, "-n", product.Namespace, "--timeout=120s"); err != nil {
		return t.checkFailed("the operator's Deployment rolled out", err)
	}
	if err := e.operatorInstalled(); err != nil {
		return err
	}
	pods, err := e.operatorPods(ctx)
	if err != nil {
		return err
	}
	if !t.check(len(pods) == 1, fmt.Sprintf("operator running in pod %s", podNames(pods)), fmt.Sprintf("%d pods", len(pods))) {
		return errors.New("the operator is not running")
	}
	t.n.say("  from its image %s (make images), imported on the node", pods[0].Spec.Containers[0].Image)
	return nil
}

// podNames is the pods' names, comma separated.
func podNames(pods []corev1.Pod) string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// applySummary condenses what `kubectl apply` printed, a line per object,
// to the kinds applied and how many of each, in the order applied:
// "namespace, customresourcedefinition ×3, … serverside-applied".
func applySummary(out string) string {
	var kinds []string
	count := map[string]int{}
	verb := ""
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		resource, _, isObject := strings.Cut(name, "/")
		if !ok || !isObject {
			continue
		}
		kind, _, _ := strings.Cut(resource, ".")
		if count[kind] == 0 {
			kinds = append(kinds, kind)
		}
		count[kind]++
		verb = v
	}
	var b strings.Builder
	width := 0
	for i, k := range kinds {
		item := k
		if count[k] > 1 {
			item = fmt.Sprintf("%s ×%d", k, count[k])
		}
		if i < len(kinds)-1 {
			item += ","
		} else {
			item += " " + verb
		}
		switch {
		case i == 0:
		case width+1+len([]rune(item)) > 80:
			b.WriteString("\n")
			width = 0
		default:
			b.WriteString(" ")
			width++
		}
		b.WriteString(item)
		width += len([]rune(item))
	}
	return b.String()
}

// cacheProxy applies the CacheProxy sample and waits for its pods and
// Service.
func (t *tour) cacheProxy(ctx context.Context) error {
	e := t.env
	t.n.title(fmt.Sprintf("[1/%d] A CacheProxy: %d caching proxies in front of the origin", t.stepCount(), replicas))
	if err := t.apply(ctx, "cache_v1alpha1_cacheproxy.yaml"); err != nil {
		return err
	}
	if _, err := t.kubectlWait(ctx, "cacheproxy/"+cacheProxyName, "condition=Available", 90*time.Second); err != nil {
		t.check(false, "CacheProxy edge available", err.Error())
		return errors.New("the CacheProxy never became available; see " + operatorLogsCommand)
	}
	if err := t.show(ctx, "get", "cacheproxies"); err != nil {
		return err
	}
	t.n.command("kubectl get pods -A")
	out, err := e.kubectl.run(ctx, "get", "pods", "-A")
	if err != nil {
		return err
	}
	t.n.output(narrowColumns(out))
	t.n.say("The cache pods, the operator and CoreDNS are containers on the node. Logs: kubectl logs.")
	_, err = t.n.wait(ctx, "waiting for the Service to reach every ready pod", func(ctx context.Context) error {
		return poll(ctx, time.Minute, func() (bool, error) {
			var err error
			if t.pods, err = t.readyPods(ctx, namespace); err != nil {
				return false, err
			}
			addr, err := e.cluster.ServiceAddress(namespace, cacheProxyName, servicePort)
			if err != nil || len(t.pods) != replicas || len(e.cluster.ServiceBackends(namespace, cacheProxyName, servicePort)) != replicas {
				return false, nil
			}
			t.service = addr
			return true, nil
		})
	})
	if !t.check(err == nil, fmt.Sprintf("%d pods ready, each with its own cache; Service edge at %s", replicas, t.service), errString(err)) {
		return errors.New("the CacheProxy's pods or Service are not ready")
	}
	t.n.say("Each pod has its own cache, so the tour fills and inspects every pod at its")
	t.n.say("pod IP, and shows what users get through the Service (Host: %s).", siteHost)
	return nil
}

// readyPods lists the ready pods of CacheProxy edge in ns by name, through
// its status selector (what `kubectl scale` and an HPA use); none until
// the CacheProxy reports one.
func (t *tour) readyPods(ctx context.Context, ns string) ([]pod, error) {
	var cp cachev1alpha1.CacheProxy
	if err := t.env.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: cacheProxyName}, &cp); err != nil {
		return nil, err
	}
	sel, err := labels.Parse(cp.Status.Selector)
	if err != nil || cp.Status.Selector == "" {
		return nil, nil // not reported yet
	}
	var list corev1.PodList
	if err := t.env.client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var pods []pod
	for _, p := range list.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil && podutils.IsPodReady(&p) {
			pods = append(pods, pod{name: p.Name, ip: p.Status.PodIP})
		}
	}
	slices.SortFunc(pods, func(a, b pod) int { return strings.Compare(a.name, b.name) })
	return pods, nil
}

// apply applies a sample with kubectl, saying what was changed to run it
// here.
func (t *tour) apply(ctx context.Context, name string) error {
	return t.applySample(ctx, name, "", t.env.originURL)
}

// applySample applies a sample in namespace ns ("": the default), its
// origin (if it names one) replaced by originURL.
func (t *tour) applySample(ctx context.Context, name, ns, originURL string) error {
	s, err := prepareSample(t.env.opts.RepoDir, filepath.Join(t.env.samplesDir(), ns), name, originURL)
	if err != nil {
		return err
	}
	return t.applyPrepared(ctx, s, ns)
}

// applyFile applies a file of the repository in namespace ns, changed by
// r if it applies.
func (t *tour) applyFile(ctx context.Context, source, ns string, r replacement) error {
	s, err := prepareFile(t.env.opts.RepoDir, filepath.Join(t.env.samplesDir(), ns), source, r)
	if err != nil {
		return err
	}
	return t.applyPrepared(ctx, s, ns)
}

func (t *tour) applyPrepared(ctx context.Context, s sample, ns string) error {
	t.n.say("applying %s%s", s.Source, s.note())
	applied := s.Applied
	if filepath.IsAbs(applied) {
		applied = relPath(applied)
	}
	args := []string{"apply", "-f", applied}
	if ns != "" {
		args = []string{"apply", "-n", ns, "-f", applied}
	}
	return t.show(ctx, args...)
}

// show runs kubectl, showing the command and its output.
func (t *tour) show(ctx context.Context, args ...string) error {
	t.n.command("kubectl " + strings.Join(args, " "))
	out, err := t.env.kubectl.run(ctx, args...)
	t.n.output(out)
	return err
}

// kubectlWait runs `kubectl wait` with a spinner.
func (t *tour) kubectlWait(ctx context.Context, object, condition string, timeout time.Duration) (time.Duration, error) {
	return t.kubectlRun(ctx, "waiting for "+object,
		"wait", "--for="+condition, object, fmt.Sprintf("--timeout=%ds", int(timeout.Seconds())))
}

// kubectlRun runs a kubectl command that waits for something, with a
// spinner labelled label, and shows its output and how long it took.
func (t *tour) kubectlRun(ctx context.Context, label string, args ...string) (time.Duration, error) {
	t.n.command("kubectl " + strings.Join(args, " "))
	var out string
	took, err := t.n.wait(ctx, label, func(ctx context.Context) error {
		var err error
		out, err = t.env.kubectl.run(ctx, args...)
		return err
	})
	if err == nil {
		t.n.output(strings.TrimSpace(out) + fmt.Sprintf("   (%s)", seconds(took)))
	}
	return took, err
}

// curl fetches path through the Service and shows it as curl -si would,
// trimmed to the status, Cache-Status, Age and the body's version.
func (t *tour) curl(ctx context.Context, path string) (answer, error) {
	return t.curlAt(ctx, t.service, path)
}

// curlAt is curl through the Service at addr.
func (t *tour) curlAt(ctx context.Context, addr, path string) (answer, error) {
	t.n.command(curlLine(addr, path))
	a, err := t.web.get(ctx, addr, path)
	if err != nil {
		t.n.output(err.Error())
		return a, err
	}
	body := fmt.Sprintf("version %d", a.Version)
	if a.Release != "" {
		body = fmt.Sprintf("release %s, version %d", a.Release, a.Version)
	}
	t.n.output(fmt.Sprintf("HTTP/1.1 %d %s\nCache-Status: %s\n… %s …", a.Status, http.StatusText(a.Status), a.CacheStatus, body))
	return a, nil
}

// summary ends the tour with the count of checks.
func (t *tour) summary(took time.Duration) {
	t.n.println("")
	if len(t.failures) == 0 {
		t.n.pass(t.n.style(styleBold, fmt.Sprintf("Tour complete in %s: all %d checks passed.", seconds(took), t.checks)))
		return
	}
	t.n.fail(t.n.style(styleBold, fmt.Sprintf("Tour finished in %s: %d of %d checks failed:", seconds(took), len(t.failures), t.checks)))
	for _, f := range t.failures {
		t.n.row("✗ %s", f)
	}
	t.n.say("Logs: %s/ and %s/", relPath(t.env.logDir()), relPath(t.env.podLogDir()))
}

// handOver tells the user how to use what keeps running.
func (t *tour) handOver() {
	e := t.env
	if e.cluster == nil {
		t.n.say("Nothing is running. Press Ctrl-C to exit.")
		return
	}
	kubeconfig := e.cluster.KubeconfigPath()
	path := filepath.Join(e.opts.BinDir, "k8s") + ":" + e.opts.BinDir
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport PATH=%s:$PATH\nexport DEMO_PROXY=%s\nexport DEMO_ORIGIN=%s\n", kubeconfig, path, t.service, e.originURL)
	_ = os.WriteFile(e.envFile(), []byte(env), 0o644)

	t.n.title("Your turn: everything keeps running until Ctrl-C")
	t.n.say("In another shell (or: source %s):", relPath(e.envFile()))
	t.n.command("export KUBECONFIG=" + kubeconfig)
	t.n.command("export PATH=" + path + ":$PATH    # kubectl is " + relPath(e.cluster.KubectlPath()))
	if t.service != "" {
		t.n.say("The proxy, as users reach it (Host: %s):", siteHost)
		t.n.command(curlLine(t.service, "/products/1"))
	}
	purge := filepath.Join(e.opts.StateDir, "my-purge.yaml")
	if err := os.WriteFile(purge, []byte(examplePurge), 0o644); err == nil {
		t.n.say("Purge it (%s):", purge)
		t.n.output(examplePurge)
		t.n.command("kubectl apply -f " + purge)
	}
	t.n.command("kubectl get purges")
	t.n.command("kubectl describe purge my-purge")
	if t.hasPlugin() {
		t.n.say("Or with the plugin:")
		t.n.command("kubectl purge edge https://www.example.com/products/1 --wait")
		t.n.say("Or in the browser: the purge wizard, the history and each pod's progress, live:")
		t.n.command("kubectl purge dashboard")
	}
	t.n.say("The origin, %s:", e.originURL)
	t.n.say("  POST /_origin/edit?path=/products/1 changes a page, /_origin/fail breaks the origin,")
	t.n.say("  /_origin/recover heals it, GET /_origin/stats counts renders.")
	t.n.say("The operator's log:")
	t.n.command(operatorLogsCommand)
	t.n.say("Logs: %s/ (cluster, origin: origin.log), %s/ (every pod)", relPath(e.logDir()), relPath(e.podLogDir()))
	t.n.say("Press Ctrl-C to stop everything.")
}

// examplePurge is the Purge the hand-over suggests.
const examplePurge = `apiVersion: cache.cacheops.io/v1alpha1
kind: Purge
metadata:
  name: my-purge
spec:
  cacheProxyRef:
    name: edge
  urls:
  - https://www.example.com/products/1
`

// poll calls fn every 200ms until it returns true or an error, or timeout
// passes.
func poll(parent context.Context, timeout time.Duration, fn func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := fn()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return parent.Err()
			}
			return fmt.Errorf("gave up after %s", timeout)
		case <-tick.C:
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
