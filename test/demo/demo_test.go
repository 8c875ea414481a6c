package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/purge-operator/test/internal/procs"
)

// binDir is where make puts images/ and k8s/: BIN_DIR when make test sets
// it, else the repository's bin/.
func binDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin")
	}
	for _, name := range []string{"images/pause.tar", "images/manager.tar", "images/cacheproxy.tar", "images/coredns.tar", "images/demo-origin.tar", "k8s/kube-apiserver", "k8s/etcd", "k8s/kube-controller-manager", "k8s/kube-scheduler", "k8s/kubectl", "k8s/kubelet", "k8s/kube-proxy"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s is missing: run `make test` (or `make envtest images`) first, which builds it", filepath.Join(dir, name))
		}
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for the narrator's spinner goroutine
// and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTour runs the whole tour as `make demo DEMO_FLAGS=--exit` does and
// checks it passed and narrated each step, then that everything it
// started is gone.
func TestTour(t *testing.T) {
	bin := binDir(t)
	state := filepath.Join(t.TempDir(), "state")
	var out syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	err := Run(ctx, Options{BinDir: bin, StateDir: state, Exit: true, Out: &out})
	t.Logf("tour and shutdown took %s", time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"✓ local Kubernetes cluster up",
		"$ kubectl apply --server-side -f dist/install.yaml",
		"customresourcedefinition ×3,",
		"deployment.apps/purge-operator-controller-manager condition met",
		"✓ operator running in pod purge-operator-controller-manager-",
		"$ kubectl get pods -A",
		"applying config/samples/cache_v1alpha1_cacheproxy.yaml (origin → http://10.201.",
		"$ kubectl apply -f config/samples/cache_v1alpha1_purge_soft.yaml",
		"✓ 3 pods ready",
		"✓ Purge app-js Complete: 3/3 pods Succeeded",
		"✓ Purge home-soft Complete: 3/3 pods Succeeded",
		"✓ Purge images Complete: 3/3 pods Succeeded",
		"✓ Purge product-42 Complete: 3/3 pods Succeeded",
		"✓ Purge prices-refetch Complete: 3/3 pods Succeeded, 3 objects invalidated, 3 refetched",
		"$ kubectl get purges",
		"$ kubectl describe purge images",
		"Normal  Completed",
		"Cache-Status: cacheproxy; fwd=stale",
		"✓ origin down, yet users get the stale copy",
		"✓ every pod refreshed in the background",
		"✓ /products/7 untouched",
		"✓ every pod already holds a new version",
		"$ kubectl apply -n web -f config/samples/cache_v1alpha1_purgetrigger.yaml",
		"✓ revision 1 was rolled out before the trigger: it is not purged",
		"$ kubectl set env -n web deployment/web RELEASE=v2",
		"✓ release v1 still served while the new pods start",
		"✓ the trigger created one Purge, for revision 2",
		"once the last new pod was ready",
		"✓ every pod fetched / and /products/1 anew from release v2",
		"✓ users see release v2, and nobody purged anything",
		"checks passed.",
		"✓ everything stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(bin, "kubectl-purge")); err == nil {
		for _, want := range []string{"$ kubectl purge edge https://www.example.com/products/3", "✓ kubectl purge --wait exited 0", "✓ Purge product-3 Complete"} {
			if !strings.Contains(text, want) {
				t.Errorf("bin/kubectl-purge is built, but the narration lacks %q", want)
			}
		}
	}
	// kubectl get pods -A: the operator, CoreDNS and the cache pods run
	// on the node.
	for _, pod := range [][]string{
		{"purge-operator-system ", " purge-operator-controller-manager-", " 1/1 ", " Running "},
		{"kube-system ", " coredns-", " 1/1 ", " Running "},
		{"default ", " edge-", " 1/1 ", " Running "},
	} {
		if !slices.ContainsFunc(strings.Split(text, "\n"), func(line string) bool {
			return !slices.ContainsFunc(pod, func(part string) bool { return !strings.Contains(line, part) })
		}) {
			t.Errorf("kubectl get pods -A shows no line with %q", pod)
		}
	}
	if strings.Contains(text, "✗") {
		t.Errorf("a check failed")
	}
	if t.Failed() {
		t.Log(text)
	}
	for _, line := range strings.Split(text, "\n") {
		// Paths of the test's temporary state directory are long; the
		// demo's own, test/.state/demo, is short.
		line = strings.ReplaceAll(line, state, "test/.state/demo")
		if len([]rune(line)) > 110 {
			t.Errorf("line of %d characters, too long to read: %q", len([]rune(line)), line)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "logs", "manager.log")); err != nil {
		t.Errorf("the operator's log: %v", err)
	}
	if left := processesOf(t, state); len(left) > 0 {
		t.Errorf("still running after Run returned:\n%s", strings.Join(left, "\n"))
	}
}

// processesOf lists running processes that belong to the demo whose state
// is in dir: children of this test process (etcd and kube-apiserver are),
// and processes whose command line, environment (KUBECONFIG) or working
// directory (pods) name dir.
func processesOf(t *testing.T, dir string) []string {
	t.Helper()
	return procs.Strings(procs.Of(os.Getpid(), dir))
}
