package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/controllers/purgestatus"
)

// purgeWith is a Purge of CacheProxy edge whose status is summarised from
// pods as the operator would, started if any pod is given.
func purgeWith(dryRun bool, pods ...cachev1alpha1.PodPurgeStatus) *cachev1alpha1.Purge {
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-simple-abcde", Namespace: "web"},
		Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, DryRun: dryRun},
	}
	playedStatus(&p.Status, p.Generation, p.Spec.CacheProxyRef.Name, pods, len(pods) > 0)
	return p
}

func pod(name string, phase cachev1alpha1.PodPurgePhase, attempts int32, matched, invalidated, refetched int64, lastError string) cachev1alpha1.PodPurgeStatus {
	return withReason(cachev1alpha1.PodPurgeStatus{Name: name, IP: "10.0.0." + name[len(name)-1:], Phase: phase, Attempts: attempts,
		Matched: matched, Invalidated: invalidated, Refetched: refetched, LastError: lastError})
}

// withReason gives a Failed pod its failure reason: every failed pod of
// these tests was given up at the deadline.
func withReason(p cachev1alpha1.PodPurgeStatus) cachev1alpha1.PodPurgeStatus {
	if p.Phase == cachev1alpha1.PodPurgeFailed {
		p.FailureReason = cachev1alpha1.PodFailureDeadlineExceeded
	}
	return p
}

const (
	pending   = cachev1alpha1.PodPurgePending
	succeeded = cachev1alpha1.PodPurgeSucceeded
	failed    = cachev1alpha1.PodPurgeFailed
	gone      = cachev1alpha1.PodPurgeGone
)

func TestTrackerPrintsEachPodOnceAsItAnswers(t *testing.T) {
	var out bytes.Buffer
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := newTracker(&out, created)
	tr.now = func() time.Time { return created.Add(210 * time.Millisecond) }

	states := []*cachev1alpha1.Purge{
		purgeWith(false), // not started
		purgeWith(false, pod("edge-1", pending, 0, 0, 0, 0, ""), pod("edge-22", pending, 0, 0, 0, 0, ""), pod("edge-3", pending, 0, 0, 0, 0, "")),
		purgeWith(false, pod("edge-1", succeeded, 1, 4, 4, 0, ""), pod("edge-22", pending, 1, 0, 0, 0, "dial tcp:\n refused"), pod("edge-3", pending, 0, 0, 0, 0, "")),
		// The same state again (a resync) prints nothing.
		purgeWith(false, pod("edge-1", succeeded, 1, 4, 4, 0, ""), pod("edge-22", pending, 1, 0, 0, 0, "dial tcp:\n refused"), pod("edge-3", pending, 0, 0, 0, 0, "")),
		purgeWith(false, pod("edge-1", succeeded, 1, 4, 4, 0, ""), pod("edge-22", succeeded, 2, 8, 8, 2, "GET https://www.example.com/x: 503"), pod("edge-3", gone, 0, 0, 0, 0, "")),
	}
	var done []bool
	for _, s := range states {
		done = append(done, tr.observe(s))
	}
	if diff := cmp.Diff([]bool{false, false, false, false, true}, done); diff != "" {
		t.Errorf("observe's done (-want +got):\n%s", diff)
	}
	want := `Purging 3 pods of CacheProxy edge:
  edge-1   10.0.0.1  Succeeded  4 matched, 4 invalidated, 0 refetched
  edge-22  10.0.0.2  Retrying   attempt 1 failed: dial tcp: refused
  edge-22  10.0.0.2  Succeeded  8 matched, 8 invalidated, 2 refetched; errors: GET https://www.example.com/x: 503
  edge-3   10.0.0.3  Gone       deleted before it answered; its cache went with it
Complete: 3/3 pods (1 gone), 12 objects invalidated, 2 refetched in 0.21s
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestTrackerSummaries(t *testing.T) {
	finished := purgeWith(false, pod("edge-1", succeeded, 1, 3, 3, 0, ""), pod("edge-2", failed, 5, 0, 0, 0, "deadline exceeded after 5 attempts; last error: 503"))
	dry := purgeWith(true, pod("edge-1", succeeded, 1, 7, 0, 0, ""))
	none := purgeWith(false)
	playedStatus(&none.Status, none.Generation, none.Spec.CacheProxyRef.Name, nil, true)
	for _, tc := range []struct {
		name string
		p    *cachev1alpha1.Purge
		want string
	}{
		{"failed", finished, `Purging 2 pods of CacheProxy edge:
  edge-1  10.0.0.1  Succeeded  3 matched, 3 invalidated, 0 refetched
  edge-2  10.0.0.2  Failed     deadline exceeded after 5 attempts; last error: 503
Failed: 1/2 pods (1 failed), 3 objects invalidated, 0 refetched in 1.50s
`},
		{"dry run", dry, `Counting (dry run) in 1 pod of CacheProxy edge:
  edge-1  10.0.0.1  Succeeded  7 matched (dry run: nothing changed)
Complete (dry run): 1/1 pods, 7 objects matched, nothing changed, in 1.50s
`},
		{"no pods", none, `Purging 0 pods of CacheProxy edge:
Complete: no pods to purge (CacheProxy edge had no pod with an IP, so no cache held anything) in 1.50s
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			created := time.Now()
			tr := newTracker(&out, created)
			tr.now = func() time.Time { return created.Add(1500 * time.Millisecond) }
			if !tr.observe(tc.p) {
				t.Error("a finished Purge is not done")
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTrackerTimesAnExistingPurgeFromItsTimestamps: `status --wait` did not
// create the Purge, so its duration comes from the server's timestamps.
func TestTrackerTimesAnExistingPurgeFromItsTimestamps(t *testing.T) {
	p := purgeWith(false, pod("edge-1", succeeded, 1, 1, 1, 0, ""))
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.CreationTimestamp = metav1.Time{Time: created}
	p.Status.CompletionTime = &metav1.Time{Time: created.Add(3 * time.Minute)}
	var out bytes.Buffer
	newTracker(&out, time.Time{}).observe(p)
	if !strings.HasSuffix(out.String(), "in 3m0s\n") {
		t.Errorf("output %q does not end with the duration 3m0s", out.String())
	}
	p.Status.CompletionTime = &metav1.Time{Time: created.Add(3 * time.Second)}
	out.Reset()
	newTracker(&out, time.Time{}).observe(p)
	if !strings.HasSuffix(out.String(), "in 3s\n") {
		t.Errorf("output %q does not end with the duration 3s (whole seconds, as the timestamps count)", out.String())
	}
}

func TestTrackerWaitingAndPendingNotices(t *testing.T) {
	var out bytes.Buffer
	tr := newTracker(&out, time.Now())
	p := purgeWith(false)
	tr.notStarted(p, 10*time.Second)
	tr.notStarted(p, 10*time.Second)
	if got := strings.Count(out.String(), "No status for purge edge-simple-abcde after 10s"); got != 1 {
		t.Errorf("the pending notice is printed %d times, want once:\n%s", got, out.String())
	}

	out.Reset()
	tr = newTracker(&out, time.Now())
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: cachev1alpha1.PurgeConditionTargetResolved, Status: metav1.ConditionFalse,
		Reason: cachev1alpha1.ReasonCacheProxyNotFound, Message: "CacheProxy edge does not exist in this namespace; the Purge starts when it does"})
	tr.observe(p)
	tr.observe(p)
	tr.notStarted(p, time.Second) // the Waiting line said why already
	want := "Waiting: CacheProxy edge does not exist in this namespace; the Purge starts when it does\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
}

func TestInvalidPurgeErrorPointsAtTheInput(t *testing.T) {
	in := &purgeInput{
		URLs: []sourcedURL{{URL: "https://www.example.com/a", Source: "argument 2"}, {URL: "https://www.example.com/" + strings.Repeat("x", 2100), Source: "urls.txt:7"}},
		Tags: []string{"a,b"},
	}
	err := apierrors.NewInvalid(schema.GroupKind{Group: "cache.cacheops.io", Kind: "Purge"}, "edge-simple-abcde", field.ErrorList{
		field.TooLong(field.NewPath("spec", "urls").Index(1), "", 2048),
		field.Invalid(field.NewPath("spec", "tags").Index(0), "string", "a tag must be non-empty and contain no spaces, commas or control characters"),
		field.Invalid(field.NewPath("spec"), "object", "a ban at a host's root ..."),
		{Type: field.ErrorTypeInvalid, BadValue: nil, Detail: "some validation rules were not checked"},
	})
	got := invalidPurgeError(err, in)
	if exitCode(got) != ExitUsage {
		t.Errorf("exit status %d, want %d", exitCode(got), ExitUsage)
	}
	want := `the API server refused the Purge "edge-simple-abcde":
  spec.urls[1] (urls.txt:7 "https://www.example.com/` + strings.Repeat("x", 72-24) + `...(2124 bytes)"): Too long: may not be more than 2048 bytes
  spec.tags[0]: a tag must be non-empty and contain no spaces, commas or control characters
  spec: a ban at a host's root ...
  some validation rules were not checked`
	if diff := cmp.Diff(want, got.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if invalidPurgeError(errors.New("other"), in) != nil {
		t.Error("an error that is no refusal is explained as one")
	}
}

func TestAPIErrorExitStatuses(t *testing.T) {
	r := request{verb: verbCreate, resource: resourcePurges, namespace: "web"}
	gr := schema.GroupResource{Group: group, Resource: resourcePurges}
	for _, tc := range []struct {
		name string
		err  error
		code int
		want string
	}{
		{"forbidden", apierrors.NewForbidden(gr, "", errors.New(`User "bob" cannot create resource "purges"`)), ExitFailed,
			`permission denied: you may not create purges.cache.cacheops.io in namespace "web"`},
		{"API missing", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: group, Kind: "Purge"}}, ExitFailed,
			"the cache.cacheops.io API is not installed in this cluster"},
		{"resource missing", apierrors.NewNotFound(gr, ""), ExitFailed, "is not installed"},
		{"unauthorized", apierrors.NewUnauthorized("no"), ExitFailed, "did not accept your credentials"},
		{"bad request", apierrors.NewBadRequest("nope"), ExitUsage, "the API server refused to create"},
		{"unreachable", errors.New("dial tcp: connection refused"), ExitFailed, "is the cluster reachable?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apiError(r, tc.err)
			if exitCode(got) != tc.code || !strings.Contains(got.Error(), tc.want) {
				t.Errorf("apiError = %q (exit %d), want %q (exit %d)", got, exitCode(got), tc.want, tc.code)
			}
		})
	}
}

func TestNewestFirst(t *testing.T) {
	at := func(name string, s int) cachev1alpha1.Purge {
		return cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Unix(int64(s), 0)}}
	}
	purges := []cachev1alpha1.Purge{at("old", 1), at("new-b", 3), at("mid", 2), at("new-a", 3)}
	newestFirst(purges)
	var names []string
	for _, p := range purges {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"new-a", "new-b", "mid", "old"}, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestWhat(t *testing.T) {
	p := &cachev1alpha1.Purge{Spec: cachev1alpha1.PurgeSpec{
		URLs: []string{"https://www.example.com/a", "https://www.example.com/b"}, Tags: []string{"t1", "t2"}, DryRun: true,
	}}
	if got, want := what(p, 100), "[dry run] https://www.example.com/a (+1 more) tags t1, t2"; got != want {
		t.Errorf("what = %q, want %q", got, want)
	}
	if got := what(p, 20); got != "[dry run] https:/..." {
		t.Errorf("what(20) = %q", got)
	}
}

// playedStatus makes s the status the operator writes once the target
// pods stand as given, computed by the operator's own code
// (controllers/purgestatus): not started, or started with these pods.
func playedStatus(s *cachev1alpha1.PurgeStatus, generation int64, cacheProxy string, pods []cachev1alpha1.PodPurgeStatus, started bool) {
	now := time.Now()
	s.Pods = pods
	if started {
		if !s.Started() {
			s.StartTime = &metav1.Time{Time: now}
		}
		purgestatus.SetTargetResolvedCondition(s, generation, cacheProxy, true)
	}
	purgestatus.Summarize(s, generation, now)
}
