package demo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseDescribePurge(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "describe-purge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d := parseDescribePurge(string(out))
	wantSummary := []string{"Phase: Complete", "Progress: 2/2", "Objects Matched: 2", "Objects Invalidated: 2", "Objects Refetched: 1"}
	if !reflect.DeepEqual(d.Summary, wantSummary) {
		t.Errorf("summary = %q, want %q", d.Summary, wantSummary)
	}
	wantPods := []string{
		"edge-646cbf568b-8chkj    Succeeded attempts 1, matched 1, invalidated 1, refetched 1",
		"edge-646cbf568b-c28nf    Succeeded attempts 3, matched 1, invalidated 1, last error: refetch https://www.example.com/api/products/7: origin answered 503",
	}
	var pods []string
	for _, p := range d.Pods {
		pods = append(pods, podLine(p))
	}
	if !reflect.DeepEqual(pods, wantPods) {
		t.Errorf("pods =\n%s\nwant\n%s", strings.Join(pods, "\n"), strings.Join(wantPods, "\n"))
	}
	if len(d.Events) != 3 || !strings.HasPrefix(d.Events[0], "Type") || !strings.Contains(d.Events[2], "Completed") {
		t.Errorf("events = %q, want the header and two events without the rule", d.Events)
	}
	wantEvents := []string{
		"Type    Reason     Message",
		"Normal  Started    Purging 2 pods of CacheProxy edge",
		"Normal  Completed  2 pods succeeded, 0 gone; 2 objects invalidated, 1 refetched",
	}
	if got := eventLines(d.Events); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("event lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantEvents, "\n"))
	}

	none := parseDescribePurge("Name: x\nStatus:\n  Phase:  Pending\nEvents:  <none>\n")
	if !reflect.DeepEqual(eventLines(none.Events), []string{"<none>"}) || !reflect.DeepEqual(none.Summary, []string{"Phase: Pending"}) || len(none.Pods) != 0 {
		t.Errorf("no events, no pods: %+v", none)
	}
}

func TestCacheOutcome(t *testing.T) {
	tests := map[string]string{
		"cacheproxy; hit; ttl=59":                                              "hit",
		"cacheproxy; fwd=uri-miss; fwd-status=200; stored":                     "miss",
		"cacheproxy; fwd=vary-miss; fwd-status=200; stored":                    "miss",
		"cacheproxy; fwd=stale; ttl=-1; detail=soft-purged":                    "stale (soft-purged)",
		"cacheproxy; fwd=stale; fwd-status=503; ttl=-3; detail=stale-if-error": "stale (stale-if-error)",
		"cacheproxy; fwd=stale; fwd-status=304; ttl=60":                        "revalidated",
		"cacheproxy; fwd=method; fwd-status=201":                               "method",
		"":                                                                     "no Cache-Status",
	}
	for in, want := range tests {
		if got := cacheOutcome(in); got != want {
			t.Errorf("cacheOutcome(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBodyVersion(t *testing.T) {
	for body, want := range map[string]string{
		"<footer>version 12, rendered at 2026-03-01T12:00:00Z</footer>": "12",
		`<text x="80" y="66">version 3</text></svg>`:                    "3",
		`{"id":7,"name":"Product 7","version":4}`:                       "4",
	} {
		m := bodyVersion.FindStringSubmatch(body)
		if m == nil || m[1] != want {
			t.Errorf("version of %q = %v, want %s", body, m, want)
		}
	}
}

// The samples are applied as they are but for what cannot run here, and
// the narration names each change.
func TestPrepareSample(t *testing.T) {
	repo, out := t.TempDir(), t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(repo, samplesDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, samplesDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cp.yaml", "spec:\n  origin:\n    url: http://web.web.svc:8080\n")
	write("ban.yaml", "urls:\n- https://www.example.com/img/\n")
	write("simple.yaml", "urls:\n- https://www.example.com/static/app.js\n- https://www.example.com/static/app.js?v=2\n")

	cp, err := prepareSample(repo, out, "cp.yaml", "http://127.0.0.1:4321")
	if err != nil {
		t.Fatal(err)
	}
	if cp.note() != " (origin → http://127.0.0.1:4321)" || cp.Applied != filepath.Join(out, "cp.yaml") {
		t.Errorf("cacheproxy sample: %+v", cp)
	}
	if b, _ := os.ReadFile(cp.Applied); !strings.Contains(string(b), "url: http://127.0.0.1:4321\n") {
		t.Errorf("applied cacheproxy sample:\n%s", b)
	}

	ban, err := prepareSample(repo, out, "ban.yaml", "http://127.0.0.1:4321")
	if err != nil {
		t.Fatal(err)
	}
	if ban.note() != "" || ban.Applied != filepath.Join(samplesDir, "ban.yaml") {
		t.Errorf("a sample that runs as is must be applied from config/samples: %+v", ban)
	}

	simple, err := prepareSample(repo, out, "simple.yaml", "http://127.0.0.1:4321")
	if err != nil {
		t.Fatal(err)
	}
	if simple.note() != "" || simple.Applied != filepath.Join(samplesDir, "simple.yaml") {
		t.Errorf("the simple sample runs as is and must be applied from config/samples: %+v", simple)
	}
}

// The deploy step applies testdata/web.yaml as it is when the image make
// images built has the name the file gives, and a changed copy otherwise.
func TestPrepareFile(t *testing.T) {
	repo, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "web.yaml"), []byte("image: ghcr.io/cacheops/demo-origin:v0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	same, err := prepareFile(repo, out, "web.yaml", replacement{old: webImage, new: webImage, note: "image → " + webImage})
	if err != nil || same.Applied != "web.yaml" || same.note() != "" {
		t.Errorf("same image: %+v, %v", same, err)
	}
	other, err := prepareFile(repo, out, "web.yaml", replacement{old: webImage, new: "demo-origin:dev", note: "image → demo-origin:dev"})
	if err != nil || other.Applied != filepath.Join(out, "web.yaml") || other.note() != " (image → demo-origin:dev)" {
		t.Fatalf("another image: %+v, %v", other, err)
	}
	if b, _ := os.ReadFile(other.Applied); string(b) != "image: demo-origin:dev\n" {
		t.Errorf("applied copy: %q", b)
	}
}

func TestStateDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	first := &environment{opts: Options{StateDir: dir}}
	if err := first.lockState(); err != nil {
		t.Fatal(err)
	}
	second := &environment{opts: Options{StateDir: dir}}
	err := second.lockState()
	if !errors.Is(err, errStateInUse) || !strings.Contains(err.Error(), "another demo is running") {
		t.Fatalf("second demo on one state directory: %v, want a refusal", err)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	if err := second.lockState(); err != nil {
		t.Fatalf("after the first demo stopped: %v", err)
	}
	_ = second.stop()
}

// A failed check is marked, counted and listed at the end.
func TestChecksAreCounted(t *testing.T) {
	var out strings.Builder
	tr := &tour{n: &narrator{w: &out}, env: &environment{opts: Options{StateDir: t.TempDir()}}}
	tr.check(true, "first", "")
	tr.check(false, "second", "because")
	tr.summary(0)
	want := []string{"  ✓ first\n", "  ✗ second: because\n", "1 of 2 checks failed", "    ✗ second: because\n"}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if !reflect.DeepEqual(tr.failures, []string{"second: because"}) {
		t.Errorf("failures = %q", tr.failures)
	}
}

func TestWrapCommand(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string
	}{
		{"kubectl get purges", []string{"$ kubectl get purges"}},
		{"kubectl rollout status deployment/purge-operator-controller-manager -n purge-operator-system --timeout=120s", []string{
			"$ kubectl rollout status deployment/purge-operator-controller-manager -n purge-operator-system \\",
			"    --timeout=120s",
		}},
		{"/a/very/long/path/that/alone/is/wider/than/the/line/allows/for/any/command/at/all --x", []string{
			"$ /a/very/long/path/that/alone/is/wider/than/the/line/allows/for/any/command/at/all \\",
			"    --x",
		}},
		{"export KUBECONFIG=/tmp/TestKeepsRunningUntilInterrupted1763899091/001/state/kubeconfig", []string{
			"$ export KUBECONFIG=/tmp/TestKeepsRunningUntilInterrupted1763899091/001/state/kubeconfig",
		}},
		{"export PATH=/a/rather/long/path/to/the/bin/dir:$PATH    # kubectl is bin/k8s/kubectl --not-a-flag", []string{
			"$ export PATH=/a/rather/long/path/to/the/bin/dir:$PATH    # kubectl is bin/k8s/kubectl --not-a-flag",
		}},
		{"kubectl purge edge https://www.example.com/products/1 https://www.example.com/products/2 --wait --soft", []string{
			"$ kubectl purge edge https://www.example.com/products/1 https://www.example.com/products/2 \\",
			"    --wait --soft",
		}},
	}
	for _, tt := range tests {
		if got := wrapCommand(tt.cmd, 76); !slices.Equal(got, tt.want) {
			t.Errorf("wrapCommand(%q) =\n%q, want\n%q", tt.cmd, got, tt.want)
		}
	}
}

func TestApplySummary(t *testing.T) {
	out := `namespace/purge-operator-system serverside-applied
customresourcedefinition.apiextensions.k8s.io/cacheproxies.cache.cacheops.io serverside-applied
customresourcedefinition.apiextensions.k8s.io/purges.cache.cacheops.io serverside-applied
customresourcedefinition.apiextensions.k8s.io/purgetriggers.cache.cacheops.io serverside-applied
serviceaccount/purge-operator-controller-manager serverside-applied
role.rbac.authorization.k8s.io/purge-operator-leader-election-role serverside-applied
clusterrole.rbac.authorization.k8s.io/purge-operator-manager-role serverside-applied
clusterrole.rbac.authorization.k8s.io/purge-operator-metrics-reader serverside-applied
rolebinding.rbac.authorization.k8s.io/purge-operator-leader-election-rolebinding serverside-applied
clusterrolebinding.rbac.authorization.k8s.io/purge-operator-manager-rolebinding serverside-applied
service/purge-operator-controller-manager-metrics-service serverside-applied
service/purge-operator-purge-gateway serverside-applied
deployment.apps/purge-operator-controller-manager serverside-applied
validatingadmissionpolicy.admissionregistration.k8s.io/purge-operator-purge-requested-by serverside-applied
validatingadmissionpolicybinding.admissionregistration.k8s.io/purge-operator-purge-requested-by serverside-applied
`
	want := "namespace, customresourcedefinition ×3, serviceaccount, role, clusterrole ×2,\n" +
		"rolebinding, clusterrolebinding, service ×2, deployment,\n" +
		"validatingadmissionpolicy, validatingadmissionpolicybinding serverside-applied"
	if got := applySummary(out); got != want {
		t.Errorf("applySummary =\n%s\nwant\n%s", got, want)
	}
	if got := applySummary("Warning: something\n"); got != "" {
		t.Errorf("applySummary of no object = %q, want nothing", got)
	}
}

func TestNarrowColumns(t *testing.T) {
	in := `NAMESPACE               NAME                                                 READY   STATUS    RESTARTS      AGE
default                 edge-5c5f8c4f99-52ltz                                1/1     Running   0             12s
purge-operator-system   purge-operator-controller-manager-867584b978-cnh7j   1/1     Running   1 (5s ago)    29s
`
	want := `NAMESPACE              NAME                                                READY  STATUS   RESTARTS    AGE
default                edge-5c5f8c4f99-52ltz                               1/1    Running  0           12s
purge-operator-system  purge-operator-controller-manager-867584b978-cnh7j  1/1    Running  1 (5s ago)  29s`
	if got := narrowColumns(in); got != want {
		t.Errorf("narrowColumns =\n%s\nwant\n%s", got, want)
	}
}
