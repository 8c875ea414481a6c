package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

func TestModeOf(t *testing.T) {
	for _, tc := range []struct {
		soft, ban bool
		want      cachev1alpha1.PurgeMode
		wantErr   string
	}{
		{want: cachev1alpha1.PurgeModeSimple},
		{soft: true, want: cachev1alpha1.PurgeModeSoft},
		{ban: true, want: cachev1alpha1.PurgeModeBan},
		{soft: true, ban: true, wantErr: "--soft and --ban conflict"},
	} {
		got, err := modeOf(tc.soft, tc.ban)
		checkErr(t, err, tc.wantErr, ExitUsage)
		if got != tc.want {
			t.Errorf("modeOf(%v, %v) = %q, want %q", tc.soft, tc.ban, got, tc.want)
		}
	}
}

func TestParseDryRun(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    dryRunMode
		wantErr string
	}{
		{in: "", want: dryRunNone},
		{in: "none", want: dryRunNone},
		{in: "count", want: dryRunCount},
		{in: "client", want: dryRunClient},
		{in: "server", want: dryRunServer},
		{in: "true", wantErr: "ambiguous"},
		{in: "false", wantErr: "ambiguous"},
		{in: "all", wantErr: "want count"},
	} {
		got, err := parseDryRun(tc.in)
		checkErr(t, err, tc.wantErr, ExitUsage)
		if got != tc.want {
			t.Errorf("parseDryRun(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		in       string
		deadline time.Duration
		wait     bool
		timeout  time.Duration
		wantErr  string
	}{
		{in: ""},
		{in: "false"},
		{in: "true", deadline: 2 * time.Minute, wait: true, timeout: 2*time.Minute + waitGrace},
		{in: "true", deadline: 10 * time.Second, wait: true, timeout: 10*time.Second + waitGrace},
		{in: "45s", deadline: 2 * time.Minute, wait: true, timeout: 45 * time.Second},
		{in: "0s", wantErr: "positive duration"},
		{in: "-1m", wantErr: "positive duration"},
		{in: "soon", wantErr: "positive duration"},
	} {
		wait, timeout, err := parseWait(tc.in, tc.deadline)
		checkErr(t, err, tc.wantErr, ExitUsage)
		if wait != tc.wait || timeout != tc.timeout {
			t.Errorf("parseWait(%q, %s) = %v, %s; want %v, %s", tc.in, tc.deadline, wait, timeout, tc.wait, tc.timeout)
		}
	}
}

func TestReadURLs(t *testing.T) {
	in := "https://www.example.com/a\r\n\n# a comment\n   https://www.example.com/b?x=1   \n\t\n#https://www.example.com/skipped\nhttps://www.example.com/a"
	got, err := readURLs(strings.NewReader(in), "urls.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []sourcedURL{
		{URL: "https://www.example.com/a", Source: "urls.txt:1"},
		{URL: "https://www.example.com/b?x=1", Source: "urls.txt:4"},
		{URL: "https://www.example.com/a", Source: "urls.txt:7"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readURLs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[:2], dedupe(got)); diff != "" {
		t.Errorf("dedupe (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	urls := func(us ...string) []sourcedURL {
		var out []sourcedURL
		for i, u := range us {
			out = append(out, sourcedURL{URL: u, Source: "argument " + string(rune('2'+i))})
		}
		return out
	}
	simple, soft, ban := cachev1alpha1.PurgeModeSimple, cachev1alpha1.PurgeModeSoft, cachev1alpha1.PurgeModeBan
	for _, tc := range []struct {
		name    string
		in      purgeInput
		wantErr string
	}{
		{name: "one URL", in: purgeInput{Mode: simple, URLs: urls("https://www.example.com/a.js?v=2")}},
		{name: "tags only", in: purgeInput{Mode: soft, Tags: []string{"product-42"}, Refetch: true}},
		{name: "ban pattern", in: purgeInput{Mode: ban, URLs: urls("http://www.example.com/img/*.png")}},
		{name: "upper-case scheme", in: purgeInput{Mode: simple, URLs: urls("HTTPS://www.example.com/")}},
		{name: "nothing", in: purgeInput{Mode: simple}, wantErr: "at least one URL (argument or -f FILE) or --tag is required"},
		{name: "tags with ban", in: purgeInput{Mode: ban, URLs: urls("https://a/"), Tags: []string{"t"}}, wantErr: "--tag is not allowed with --ban"},
		{name: "refetch with ban", in: purgeInput{Mode: ban, URLs: urls("https://a/x"), Refetch: true}, wantErr: "--refetch is not allowed with --ban"},
		{name: "no scheme", in: purgeInput{Mode: simple, URLs: urls("www.example.com/a")},
			wantErr: `argument 2: "www.example.com/a" is not an absolute http:// or https:// URL such as https://www.example.com/app.js (did you mean https://www.example.com/a?)`},
		{name: "a duration where a URL goes", in: purgeInput{Mode: simple, URLs: urls("https://a/", "30s")}, wantErr: `argument 3: "30s" is not an absolute http:// or https:// URL such as https://www.example.com/app.js (to set a wait timeout, write --wait=30s)`},
		{name: "a flag after --", in: purgeInput{Mode: simple, URLs: urls("https://a/", "-n")}, wantErr: `argument 3: "-n" is not an absolute http:// or https:// URL such as https://www.example.com/app.js (arguments after -- are never flags: put flags before --)`},
		{name: "ftp", in: purgeInput{Mode: simple, URLs: urls("ftp://www.example.com/a")}, wantErr: "is not an absolute http:// or https:// URL"},
		{name: "fragment", in: purgeInput{Mode: simple, URLs: urls("https://www.example.com/a#top")}, wantErr: `argument 2: "https://www.example.com/a#top" has a #fragment, which browsers never send; remove it`},
		{name: "user info", in: purgeInput{Mode: simple, URLs: urls("https://me@www.example.com/")}, wantErr: "carries user info"},
		{name: "space", in: purgeInput{Mode: simple, URLs: urls("https://www.example.com/a b")}, wantErr: "contains a space or a control character; write a space as %20"},
		{name: "bad tag", in: purgeInput{Mode: simple, Tags: []string{"a,b"}}, wantErr: `--tag "a,b": "a,b" contains a space, a comma`},
		{name: "wildcard without ban", in: purgeInput{Mode: soft, URLs: urls("https://www.example.com/*.css")},
			wantErr: `argument 2: "https://www.example.com/*.css" contains '*': wildcards are for ban patterns; add --ban`},
		{name: "zero deadline", in: purgeInput{Mode: simple, URLs: urls("https://a/"), Deadline: ptr.To(time.Duration(0))}, wantErr: "--deadline must be positive"},
		{name: "negative ttl", in: purgeInput{Mode: simple, URLs: urls("https://a/"), TTL: ptr.To(-time.Second)}, wantErr: "--ttl must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.in.validate(), tc.wantErr, ExitUsage)
		})
	}
}

// TestHostRootBans checks the plugin asks for confirmation exactly where
// the API's CEL rule requires confirmHostRootBan.
func TestHostRootBans(t *testing.T) {
	for pattern, root := range map[string]bool{
		"https://www.example.com/":      true,
		"https://www.example.com":       true,
		"http://www.example.com/*":      true,
		"https://www.example.com/**":    true,
		"https://www.example.com:8443/": true,
		"https://www.example.com/img/":  false,
		"https://www.example.com/*.css": false,
		"https://www.example.com/a":     false,
	} {
		in := purgeInput{Mode: cachev1alpha1.PurgeModeBan, URLs: []sourcedURL{{URL: pattern}}}
		if got := len(in.hostRootBans()) == 1; got != root {
			t.Errorf("hostRootBans(%q) = %v, want %v", pattern, got, root)
		}
		in.Mode = cachev1alpha1.PurgeModeSimple
		if got := in.hostRootBans(); got != nil {
			t.Errorf("a simple purge of %q is no ban, got %v", pattern, got)
		}
	}
}

func TestGenerateName(t *testing.T) {
	name := generateName("edge", cachev1alpha1.PurgeModeSoft)
	if !regexp.MustCompile(`^edge-soft-[a-z0-9]{5}$`).MatchString(name) {
		t.Errorf("generateName = %q, want edge-soft-xxxxx", name)
	}
	if other := generateName("edge", cachev1alpha1.PurgeModeSoft); other == name {
		t.Errorf("two generated names are both %q", name)
	}
	long := strings.Repeat("a", 240) + ".b" + strings.Repeat("c", 11) // 253 characters
	name = generateName(long, cachev1alpha1.PurgeModeSimple)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || len(name) > maxNameLength {
		t.Errorf("generateName(<253 characters>) = %q (%d characters): %v", name, len(name), errs)
	}
	// Room for 243 characters of a ban's prefix: the cut falls on the dot.
	name = generateName(strings.Repeat("a", 242)+"."+strings.Repeat("b", 10), cachev1alpha1.PurgeModeBan)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		t.Errorf("a truncation ending in a dot gives %q: %v", name, errs)
	}
}

func TestPurgeFromInput(t *testing.T) {
	in := purgeInput{
		CacheProxy: "edge", Name: "n", Mode: cachev1alpha1.PurgeModeSoft,
		URLs:    []sourcedURL{{URL: "https://www.example.com/a"}, {URL: "https://www.example.com/b"}},
		Tags:    []string{"t"},
		Refetch: true, DryRun: true,
		Deadline: ptr.To(1500 * time.Millisecond), TTL: ptr.To(time.Hour),
	}
	got := in.purge("web")
	want := cachev1alpha1.PurgeSpec{
		CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"},
		Mode:          cachev1alpha1.PurgeModeSoft,
		URLs:          []string{"https://www.example.com/a", "https://www.example.com/b"},
		Tags:          []string{"t"},
		Refetch:       true, DryRun: true,
		DeadlineSeconds:         2, // rounded up
		TTLSecondsAfterFinished: ptr.To[int32](3600),
	}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if got.Name != "n" || got.Namespace != "web" || got.Labels[LabelCreatedBy] != CreatedByValue {
		t.Errorf("metadata = %+v", got.ObjectMeta)
	}
	if got.APIVersion != "cache.cacheops.io/v1alpha1" || got.Kind != "Purge" {
		t.Errorf("type = %+v", got.TypeMeta)
	}
}

// checkErr fails t unless err contains want (nil when want is empty) and
// carries exit status code.
func checkErr(t *testing.T, err error, want string, code int) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	case want != "" && exitCode(err) != code:
		t.Errorf("error %q has exit status %d, want %d", err, exitCode(err), code)
	}
}

func TestParseWorkload(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    cachev1alpha1.WorkloadReference
		wantErr string
	}{
		{in: "deployment/web", want: cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: "web"}},
		{in: "Deploy/web", want: cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: "web"}},
		{in: "deployments.apps/web", want: cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: "web"}},
		{in: "sts/db", want: cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadStatefulSet, Name: "db"}},
		{in: "rollout.argoproj.io/web", want: cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadRollout, Name: "web"}},
		{in: "web", wantErr: "want KIND/NAME"},
		{in: "deployment/", wantErr: "want KIND/NAME"},
		{in: "deployment/web/x", wantErr: "want KIND/NAME"},
		{in: "daemonset/web", wantErr: `not "daemonset"`},
	} {
		got, err := parseWorkload(tc.in)
		checkErr(t, err, tc.wantErr, ExitUsage)
		if got != tc.want {
			t.Errorf("parseWorkload(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestTriggerName(t *testing.T) {
	web := cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: "web"}
	if got := triggerName("", web, "edge"); got != "web-edge" {
		t.Errorf("default name %q, want web-edge", got)
	}
	if got := triggerName("mine", web, "edge"); got != "mine" {
		t.Errorf("--name ignored: %q", got)
	}
	long := cachev1alpha1.WorkloadReference{Kind: cachev1alpha1.WorkloadDeployment, Name: strings.Repeat("w", 61) + "-x"}
	got := triggerName("", long, "edge")
	if len(got) > maxTriggerNameLength || strings.HasSuffix(got, "-") {
		t.Errorf("long default name %q (%d characters): want at most %d, no trailing '-'", got, len(got), maxTriggerNameLength)
	}
	if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
		t.Errorf("default name %q is not a valid name: %v", got, errs)
	}
}
