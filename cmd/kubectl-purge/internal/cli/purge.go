package cli

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// This file turns arguments and flags into a Purge: pure functions, no
// client, table-tested in purge_test.go.

// Labels and annotations the plugin puts on the Purges it creates.
const (
	// LabelCreatedBy marks the Purges the plugin created, with the value
	// CreatedByValue, so `kubectl purge list` (and
	// `kubectl get purges -l app.kubernetes.io/created-by=kubectl-purge`)
	// can tell them from those applied as YAML.
	LabelCreatedBy = "app.kubernetes.io/created-by"
	// CreatedByValue is the value of LabelCreatedBy, and the field manager
	// of the create request.
	CreatedByValue = "kubectl-purge"
	// AnnotationRequestedBy holds the user name the API server saw the
	// plugin as (from a SelfSubjectReview), for `list` and `status`. It is
	// informational: whoever may create a Purge may write any annotation;
	// the API server's audit log is the record to trust.
	AnnotationRequestedBy = "kubectl-purge.cacheops.io/requested-by"
)

// maxNameLength is the longest object name the API server accepts.
const maxNameLength = 253

// dryRunMode says what --dry-run asks for. The flag has two meanings that
// must not be confused: the Purge's own spec.dryRun (the operator runs it
// and every pod counts what would match, changing nothing) and kubectl's
// client or server dry run (no Purge is stored at all).
type dryRunMode string

const (
	// dryRunNone creates the Purge and runs it for real.
	dryRunNone dryRunMode = "none"
	// dryRunCount creates the Purge with spec.dryRun set: pods count the
	// objects that would match and change nothing. A bare --dry-run.
	dryRunCount dryRunMode = "count"
	// dryRunClient creates nothing and prints the Purge that would be
	// created, so it can be committed to Git instead.
	dryRunClient dryRunMode = "client"
	// dryRunServer sends the Purge to the API server for validation only
	// (a server-side dry run): nothing is stored, no pod is called.
	dryRunServer dryRunMode = "server"
)

// parseDryRun reads the value of --dry-run.
func parseDryRun(v string) (dryRunMode, error) {
	switch m := dryRunMode(v); m {
	case "":
		return dryRunNone, nil
	case dryRunNone, dryRunCount, dryRunClient, dryRunServer:
		return m, nil
	case "true", "false":
		return "", usageErrorf("--dry-run=%s is ambiguous: write --dry-run (or --dry-run=count) to have every pod count what would match and change nothing, "+
			"or --dry-run=client to print the Purge without creating it", v)
	default:
		return "", usageErrorf("--dry-run=%s: want count (the default of a bare --dry-run), client, server or none", v)
	}
}

// waitDefault is the value of a bare --wait: wait until the Purge's own
// deadline, plus waitGrace for the operator to write the final status.
const waitDefault = "true"

// waitGrace is added to the Purge's deadline for a bare --wait.
const waitGrace = 30 * time.Second

// parseWait reads the value of --wait: "" or "false" (no wait), "true" (a
// bare --wait: until the Purge's deadline plus waitGrace), or a positive
// duration such as 30s or 2m.
func parseWait(v string, deadline time.Duration) (wait bool, timeout time.Duration, err error) {
	switch v {
	case "", "false":
		return false, 0, nil
	case waitDefault:
		return true, deadline + waitGrace, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return false, 0, usageErrorf("--wait=%s: want a positive duration such as 30s or 5m, or a bare --wait (until the Purge's deadline, %s, plus %s)",
			v, deadline, waitGrace)
	}
	return true, d, nil
}

// purgeInput is everything the create command knows about the Purge to
// create, once the arguments are read.
type purgeInput struct {
	CacheProxy string
	Name       string // empty: generated
	Mode       cachev1alpha1.PurgeMode
	URLs       []sourcedURL
	Tags       []string
	Refetch    bool
	DryRun     bool
	Confirm    bool           // spec.confirmHostRootBan
	Deadline   *time.Duration // spec.deadlineSeconds; nil: the API's default
	TTL        *time.Duration // spec.ttlSecondsAfterFinished; nil: kept forever
}

// sourcedURL is a URL and where the user wrote it, so an error can point
// there: "argument 2" or "urls.txt:14".
type sourcedURL struct {
	URL    string
	Source string
}

// modeOf maps --soft and --ban to a mode.
func modeOf(soft, ban bool) (cachev1alpha1.PurgeMode, error) {
	switch {
	case soft && ban:
		return "", usageErrorf("--soft and --ban conflict: a Purge has one mode (simple, the default; --soft; or --ban)")
	case soft:
		return cachev1alpha1.PurgeModeSoft, nil
	case ban:
		return cachev1alpha1.PurgeModeBan, nil
	}
	return cachev1alpha1.PurgeModeSimple, nil
}

// readURLs reads URLs, one a line, from r: surrounding whitespace (and a
// Windows line end) is dropped, and so are blank lines and lines starting
// with #, so a list pasted from a CDN dashboard or kept with comments works.
func readURLs(r io.Reader, name string) ([]sourcedURL, error) {
	var urls []sourcedURL
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		u := strings.TrimSpace(sc.Text())
		if u == "" || strings.HasPrefix(u, "#") {
			continue
		}
		urls = append(urls, sourcedURL{URL: u, Source: fmt.Sprintf("%s:%d", name, line)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading URLs from %s: %w", name, err)
	}
	return urls, nil
}

// dedupe drops repeated URLs, keeping the first of each.
func dedupe(urls []sourcedURL) []sourcedURL {
	seen := make(map[string]bool, len(urls))
	out := urls[:0:0]
	for _, u := range urls {
		if !seen[u.URL] {
			seen[u.URL] = true
			out = append(out, u)
		}
	}
	return out
}

// validate refuses what the API server would refuse for reasons the user
// can fix on the command line, in words adapted to the flags. URLs, ban
// patterns and tags are judged by the rules of cacheproxy/admin, the ones
// the CRD's CEL rules restate (urlrules_test.go runs one table through
// the three), as is the bound on wildcard-host bans. The API server still
// judges everything else (counts) and its message is passed through.
func (in *purgeInput) validate() error {
	ban := in.Mode == cachev1alpha1.PurgeModeBan
	switch {
	case len(in.URLs) == 0 && len(in.Tags) == 0:
		return usageErrorf("at least one URL (argument or -f FILE) or --tag is required")
	case ban && len(in.Tags) > 0:
		return usageErrorf("--tag is not allowed with --ban: a ban matches URL patterns; drop --ban to purge tags (simple mode, or --soft)")
	case ban && in.Refetch:
		return usageErrorf("--refetch is not allowed with --ban: a pattern names no URL to fetch; drop --ban (simple mode, or --soft)")
	}
	valid := admin.ValidateURL
	if ban {
		valid = admin.ValidateBanPattern
	}
	for _, u := range in.URLs {
		if err := valid(u.URL); err != nil {
			return usageErrorf("%s: %v%s", u.Source, err, urlHint(u.URL))
		}
	}
	if ban {
		patterns := make([]string, len(in.URLs))
		for i, u := range in.URLs {
			patterns[i] = u.URL
		}
		if err := admin.ValidateWildcardHosts(patterns); err != nil {
			return usageErrorf("%v", err)
		}
	}
	for _, t := range in.Tags {
		if err := admin.ValidateTag(t); err != nil {
			return usageErrorf("--tag %q: %v", t, err)
		}
	}
	if in.Deadline != nil && *in.Deadline <= 0 {
		return usageErrorf("--deadline must be positive, such as 30s or 10m")
	}
	if in.TTL != nil && *in.TTL < 0 {
		return usageErrorf("--ttl must not be negative")
	}
	return nil
}

// urlHint guesses what was meant by an argument that is no valid URL.
func urlHint(arg string) string {
	if admin.ValidateBanPattern(arg) == nil {
		return "; add --ban to invalidate everything it matches"
	}
	if strings.HasPrefix(arg, "-") {
		return " (arguments after -- are never flags: put flags before --)"
	}
	if d, err := time.ParseDuration(arg); err == nil && d > 0 {
		return fmt.Sprintf(" (to set a wait timeout, write --wait=%s)", arg)
	}
	if !strings.Contains(arg, "://") && admin.ValidateBanPattern("https://"+arg) == nil {
		return fmt.Sprintf(" (did you mean https://%s?)", arg)
	}
	return ""
}

// hostRootBans lists the ban patterns that cover a whole host, which the
// API accepts only with confirmHostRootBan.
func (in *purgeInput) hostRootBans() []string {
	if in.Mode != cachev1alpha1.PurgeModeBan {
		return nil
	}
	var roots []string
	for _, u := range in.URLs {
		if admin.IsHostRootBan(u.URL) {
			roots = append(roots, u.URL)
		}
	}
	return roots
}

// purge builds the Purge to create. namespace may be empty (the printed
// manifest then applies to any namespace).
func (in *purgeInput) purge(namespace string) *cachev1alpha1.Purge {
	name := in.Name
	if name == "" {
		name = generateName(in.CacheProxy, in.Mode)
	}
	p := &cachev1alpha1.Purge{
		TypeMeta: metav1.TypeMeta{APIVersion: cachev1alpha1.GroupVersion.String(), Kind: "Purge"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    map[string]string{LabelCreatedBy: CreatedByValue},
		},
		Spec: cachev1alpha1.PurgeSpec{
			CacheProxyRef:      cachev1alpha1.CacheProxyReference{Name: in.CacheProxy},
			Mode:               in.Mode,
			Tags:               in.Tags,
			Refetch:            in.Refetch,
			DryRun:             in.DryRun,
			ConfirmHostRootBan: in.Confirm,
		},
	}
	for _, u := range in.URLs {
		p.Spec.URLs = append(p.Spec.URLs, u.URL)
	}
	if in.Deadline != nil {
		p.Spec.DeadlineSeconds = seconds(*in.Deadline)
	}
	if in.TTL != nil {
		p.Spec.TTLSecondsAfterFinished = ptr.To(seconds(*in.TTL))
	}
	return p
}

// seconds rounds d up to whole seconds, saturating; the API server bounds
// the result.
func seconds(d time.Duration) int32 {
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(s)
}

// generateName is "<cacheproxy>-<mode>-<5 random characters>", the same
// suffix metadata.generateName would add, within the 253 characters a name
// may have. The plugin names the Purge itself rather than leaving it to
// generateName so that --dry-run=client prints a manifest that can be
// applied as it is.
func generateName(cacheProxy string, mode cachev1alpha1.PurgeMode) string {
	const suffix = 5
	prefix := cacheProxy
	if room := maxNameLength - len(mode) - suffix - 2; len(prefix) > room {
		prefix = strings.TrimRight(prefix[:room], "-.")
	}
	return fmt.Sprintf("%s-%s-%s", prefix, mode, utilrand.String(suffix))
}
