package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// tracker turns the successive states of one Purge, as a watch delivers
// them, into progress lines: a header once the target pods are chosen, a
// line per pod when it answers (and per failed attempt while it is
// retried), and a summary when the Purge ends. It prints each thing once,
// whatever states it is shown and how often.
type tracker struct {
	out io.Writer
	// created is when the plugin created the Purge, to time it to the
	// hundredth of a second; zero when following an existing Purge, which
	// is timed from its creation and completion timestamps (whole seconds).
	created time.Time
	// now is the clock the summary's duration is read from.
	now func() time.Time

	started, waitingShown, pendingShown bool
	pods                                map[string]podSeen
	nameWidth, ipWidth                  int
}

// podSeen is what was last printed about a pod.
type podSeen struct {
	phase    cachev1alpha1.PodPurgePhase
	attempts int32
}

func newTracker(out io.Writer, created time.Time) *tracker {
	return &tracker{out: out, created: created, now: time.Now, pods: map[string]podSeen{}}
}

// observe prints what is new in p and reports whether the Purge ended.
func (t *tracker) observe(p *cachev1alpha1.Purge) bool {
	s := &p.Status
	if c := meta.FindStatusCondition(s.Conditions, cachev1alpha1.PurgeConditionTargetResolved); c != nil &&
		c.Status == metav1.ConditionFalse && !t.waitingShown {
		t.waitingShown = true
		fmt.Fprintf(t.out, "Waiting: %s\n", c.Message)
	}
	if s.StartTime != nil && !t.started {
		t.started = true
		t.header(p)
	}
	for i := range s.Pods {
		t.pod(&s.Pods[i], p.Spec.DryRun)
	}
	if p.Status.Finished() {
		fmt.Fprintln(t.out, t.summary(p))
		return true
	}
	return false
}

// notStarted says, once, that the Purge still has no status after a
// while. The operator writes the first status once it has called every
// target pod once, which a hung pod delays by up to its call timeout (10s
// by default); much longer suggests no operator is running.
func (t *tracker) notStarted(p *cachev1alpha1.Purge, after time.Duration) {
	if t.started || t.waitingShown || t.pendingShown {
		return
	}
	t.pendingShown = true
	fmt.Fprintf(t.out, "No status for purge %s after %s: the operator reports once every target pod was called (a hung pod takes up to its call timeout); "+
		"if this lasts, check that the purge-operator manager is running\n", p.Name, after)
}

func (t *tracker) header(p *cachev1alpha1.Purge) {
	t.nameWidth, t.ipWidth = len("POD"), len("IP")
	for _, pod := range p.Status.Pods {
		t.nameWidth = max(t.nameWidth, len(pod.Name))
		t.ipWidth = max(t.ipWidth, len(pod.IP))
	}
	what := "Purging"
	if p.Spec.DryRun {
		what = "Counting (dry run) in"
	}
	fmt.Fprintf(t.out, "%s %d %s of CacheProxy %s:\n", what, len(p.Status.Pods), plural(len(p.Status.Pods), "pod", "pods"), p.Spec.CacheProxyRef.Name)
}

// pod prints a line when the pod reached a final phase, or failed one
// more attempt and will be retried.
func (t *tracker) pod(pod *cachev1alpha1.PodPurgeStatus, dryRun bool) {
	seen := t.pods[pod.Name]
	if seen.phase == pod.Phase && seen.attempts == pod.Attempts {
		return
	}
	t.pods[pod.Name] = podSeen{phase: pod.Phase, attempts: pod.Attempts}
	var phase, detail string
	switch pod.Phase {
	case cachev1alpha1.PodPurgeSucceeded:
		phase, detail = "Succeeded", counts(pod.Matched, pod.Invalidated, pod.Refetched, dryRun)
		if pod.LastError != "" {
			detail += "; errors: " + oneLine(pod.LastError)
		}
	case cachev1alpha1.PodPurgeFailed:
		phase, detail = "Failed", oneLine(pod.LastError)
	case cachev1alpha1.PodPurgeGone:
		phase, detail = "Gone", "deleted before it answered; its cache went with it"
	case cachev1alpha1.PodPurgePending:
		if pod.Attempts <= seen.attempts || pod.LastError == "" {
			return
		}
		phase, detail = "Retrying", fmt.Sprintf("attempt %d failed: %s", pod.Attempts, oneLine(pod.LastError))
	default:
		return
	}
	fmt.Fprintf(t.out, "  %-*s  %-*s  %-9s  %s\n", t.nameWidth, pod.Name, t.ipWidth, pod.IP, phase, detail)
}

// summary is the last line: "Complete: 3/3 pods, 12 objects invalidated,
// 0 refetched in 0.21s", or "Failed: ...".
func (t *tracker) summary(p *cachev1alpha1.Purge) string {
	s := &p.Status
	took := t.duration(p)
	head := string(s.Phase)
	if p.Spec.DryRun {
		head += " (dry run)"
	}
	if s.TargetPods == 0 {
		return fmt.Sprintf("%s: no pods to purge (CacheProxy %s had no pod with an IP, so no cache held anything) in %s",
			head, p.Spec.CacheProxyRef.Name, took)
	}
	pods := fmt.Sprintf("%d/%d pods", s.SucceededPods+s.GonePods, s.TargetPods)
	var notes []string
	if s.GonePods > 0 {
		notes = append(notes, fmt.Sprintf("%d gone", s.GonePods))
	}
	if s.FailedPods > 0 {
		notes = append(notes, fmt.Sprintf("%d failed", s.FailedPods))
	}
	if len(notes) > 0 {
		pods += " (" + strings.Join(notes, ", ") + ")"
	}
	objects := fmt.Sprintf("%d %s invalidated, %d refetched", s.ObjectsInvalidated, plural(int(s.ObjectsInvalidated), "object", "objects"), s.ObjectsRefetched)
	if p.Spec.DryRun {
		objects = fmt.Sprintf("%d %s matched, nothing changed,", s.ObjectsMatched, plural(int(s.ObjectsMatched), "object", "objects"))
	}
	return fmt.Sprintf("%s: %s, %s in %s", head, pods, objects, took)
}

// duration is how long the Purge took: to the hundredth of a second when
// the plugin created it, else from its timestamps, which count seconds.
func (t *tracker) duration(p *cachev1alpha1.Purge) string {
	var d time.Duration
	switch {
	case !t.created.IsZero():
		d = t.now().Sub(t.created)
	case p.Status.CompletionTime != nil:
		return p.Status.CompletionTime.Sub(p.CreationTimestamp.Time).Round(time.Second).String()
	}
	if d < time.Minute {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func counts(matched, invalidated, refetched int64, dryRun bool) string {
	if dryRun {
		return fmt.Sprintf("%d matched (dry run: nothing changed)", matched)
	}
	return fmt.Sprintf("%d matched, %d invalidated, %d refetched", matched, invalidated, refetched)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine keeps a message on one line of output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errWaitTimedOut is the cause of the wait's context when --wait's
// timeout passed.
var errWaitTimedOut = errors.New("wait timed out")

// follow watches the Purge until it ends, showing each state to t, for at
// most timeout. It returns the last state seen, and an error carrying exit
// status ExitFailed if the Purge failed, ExitTimeout if the wait timed
// out, ExitInterrupted if ctx was cancelled. A watch that ends early
// (the API server closes watches after a while) is resumed from a fresh
// read, so nothing is missed and nothing is polled.
func follow(ctx context.Context, c client.WithWatch, p *cachev1alpha1.Purge, timeout time.Duration, t *tracker, pendingNotice time.Duration) (*cachev1alpha1.Purge, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errWaitTimedOut)
	defer cancel()
	notice := time.NewTimer(pendingNotice)
	defer notice.Stop()
	key := client.ObjectKeyFromObject(p)
	for {
		if t.observe(p) {
			return p, finalError(p)
		}
		w, err := c.Watch(ctx, &cachev1alpha1.PurgeList{}, client.InNamespace(key.Namespace),
			client.MatchingFields{"metadata.name": key.Name},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: p.ResourceVersion}})
		if err != nil {
			if ctx.Err() != nil {
				return p, waitEnded(ctx, p, timeout)
			}
			return p, watchError(key.Namespace, p.Name, err)
		}
		last, done, err := t.watch(ctx, w, p, notice, pendingNotice)
		w.Stop()
		p = last
		if done || err != nil {
			return p, err
		}
		if ctx.Err() != nil {
			return p, waitEnded(ctx, p, timeout)
		}
		// The watch closed or expired: read the Purge again and resume.
		fresh := &cachev1alpha1.Purge{}
		if err := c.Get(ctx, key, fresh); err != nil {
			if ctx.Err() != nil {
				return p, waitEnded(ctx, p, timeout)
			}
			if apierrors.IsNotFound(err) {
				return p, withCode(ExitFailed, fmt.Errorf("purge %s was deleted before it finished", key.Name))
			}
			return p, apiError(request{verb: verbGet, resource: resourcePurges, namespace: key.Namespace}, err)
		}
		p = fresh
	}
}

// watch reads one watch until the Purge ends (done), the watch closes or
// expires (neither done nor an error: resume), or something fails.
func (t *tracker) watch(ctx context.Context, w watch.Interface, p *cachev1alpha1.Purge, notice *time.Timer, after time.Duration) (*cachev1alpha1.Purge, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return p, false, nil
		case <-notice.C:
			t.notStarted(p, after)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return p, false, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if next, ok := ev.Object.(*cachev1alpha1.Purge); ok {
					p = next
					if t.observe(p) {
						return p, true, finalError(p)
					}
				}
			case watch.Deleted:
				return p, false, withCode(ExitFailed, fmt.Errorf("purge %s was deleted before it finished", p.Name))
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return p, false, nil
				}
				return p, false, watchError(p.Namespace, p.Name, err)
			}
		}
	}
}

// finalError is nil for a Complete Purge and names the failed pods of a
// Failed one.
func finalError(p *cachev1alpha1.Purge) error {
	if p.Status.Phase != cachev1alpha1.PurgeFailed {
		return nil
	}
	why := fmt.Sprintf("%d of %d pods failed", p.Status.FailedPods, p.Status.TargetPods)
	if c := meta.FindStatusCondition(p.Status.Conditions, cachev1alpha1.PurgeConditionFailed); c != nil && c.Message != "" {
		why = c.Message
	}
	return withCode(ExitFailed, fmt.Errorf("purge %s failed: %s\nDetails: kubectl purge status %s -n %s", p.Name, why, p.Name, p.Namespace))
}

// waitEnded explains a wait that stopped before the Purge ended.
func waitEnded(ctx context.Context, p *cachev1alpha1.Purge, timeout time.Duration) error {
	state := string(p.Status.Phase)
	if state == "" {
		state = string(cachev1alpha1.PurgePending)
	}
	if p.Status.Progress != "" {
		state += ", " + p.Status.Progress + " pods done"
	}
	resume := fmt.Sprintf("kubectl purge status %s -n %s --wait", p.Name, p.Namespace)
	if errors.Is(context.Cause(ctx), errWaitTimedOut) {
		return withCode(ExitTimeout, fmt.Errorf("timed out after %s waiting for purge %s (%s); it goes on in the cluster: %s", timeout, p.Name, state, resume))
	}
	return withCode(ExitInterrupted, fmt.Errorf("interrupted while waiting for purge %s (%s); it goes on in the cluster: %s", p.Name, state, resume))
}

// watchError explains a watch the API server refused; the Purge exists.
func watchError(ns, name string, err error) error {
	err = apiError(request{verb: verbWatch, resource: resourcePurges, namespace: ns}, err)
	return withCode(exitCode(err), fmt.Errorf("cannot follow purge %s: %w", name, err))
}
