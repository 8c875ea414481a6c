package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=cache.cacheops.io,resources=purges,verbs=create

// batchKey groups the requests that may share a Purge: same CacheProxy,
// mode, caller and dialect.
type batchKey struct {
	namespace, cacheProxy string
	mode                  cachev1alpha1.PurgeMode
	confirmHostRootBan    bool
	source                cachev1alpha1.PurgeSource
	requestedBy, groups   string
}

func keyFor(cp *cachev1alpha1.CacheProxy, who *caller, source cachev1alpha1.PurgeSource, w work) batchKey {
	return batchKey{
		namespace: cp.Namespace, cacheProxy: cp.Name,
		mode: w.mode, confirmHostRootBan: w.confirmHostRootBan,
		source: source, requestedBy: who.user, groups: groupsAnnotation(who.groups),
	}
}

// Bounds of the request annotation: a burst of thousands of requests
// must not make a Purge too large to store.
const (
	maxRequestLines     = 50
	maxRequestLineBytes = 1024
)

// purgeFor is the Purge of urls and tags for the requests of k whose
// request lines are lines. Its name is generated: <cacheproxy>-<dialect>-xxxxx.
func purgeFor(k batchKey, urls, tags, lines []string) *cachev1alpha1.Purge {
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: k.cacheProxy + "-" + string(k.source) + "-",
			Namespace:    k.namespace,
			Labels:       map[string]string{cachev1alpha1.LabelPurgeSource: string(k.source)},
			Annotations: map[string]string{
				cachev1alpha1.AnnotationRequestedBy: k.requestedBy,
				cachev1alpha1.AnnotationRequest:     requestAnnotation(lines),
			},
		},
		Spec: cachev1alpha1.PurgeSpec{
			CacheProxyRef:      cachev1alpha1.CacheProxyReference{Name: k.cacheProxy},
			Mode:               k.mode,
			URLs:               urls,
			Tags:               tags,
			ConfirmHostRootBan: k.confirmHostRootBan,
		},
	}
	if k.groups != "" {
		p.Annotations[cachev1alpha1.AnnotationRequestedByGroups] = k.groups
	}
	return p
}

// requestAnnotation lists the request lines, one a line, within bounds.
func requestAnnotation(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i == maxRequestLines {
			fmt.Fprintf(&b, "\n... and %d more requests", len(lines)-i)
			break
		}
		if len(l) > maxRequestLineBytes {
			l = l[:maxRequestLineBytes] + "..."
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

// chunk splits urls and tags over as few Purges as the API's bounds
// allow: the i-th Purge gets the i-th run of MaxPurgeURLs URLs and of
// MaxPurgeTags tags.
func chunk(urls, tags []string) (urlChunks, tagChunks [][]string) {
	nu, nt := cachev1alpha1.MaxPurgeURLs, cachev1alpha1.MaxPurgeTags
	n := max(1, ceilDiv(len(urls), nu), ceilDiv(len(tags), nt))
	urlChunks, tagChunks = make([][]string, n), make([][]string, n)
	for i := range n {
		urlChunks[i] = window(urls, i*nu, nu)
		tagChunks[i] = window(tags, i*nt, nt)
	}
	return urlChunks, tagChunks
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func window(s []string, from, n int) []string {
	if from >= len(s) {
		return nil
	}
	return s[from:min(len(s), from+n)]
}

// validate asks the API server whether the Purges of one request would be
// accepted (a server-side dry run): the CRD's schema and CEL rules are the
// only validation, and its message goes back to the client. createBatch
// calls it only for the requests of a batch the API server refused.
func (g *Gateway) validate(ctx context.Context, k batchKey, w work, line string) *problem {
	urls, tags := chunk(w.urls, w.tags)
	for i := range urls {
		p := purgeFor(k, urls[i], tags[i], []string{line})
		if err := g.client.Create(ctx, p, client.DryRunAll); err != nil {
			return apiProblem(err)
		}
	}
	return nil
}

// apiProblem turns the API server's refusal into the client's 400 with its
// message, field by field; anything else is the gateway's failure.
func apiProblem(err error) *problem {
	var status apierrors.APIStatus
	if !isRefusal(err) || !errors.As(err, &status) {
		return internal(err)
	}
	st := status.Status()
	msg := st.Message
	if d := st.Details; d != nil && len(d.Causes) > 0 {
		parts := make([]string, 0, len(d.Causes))
		for _, c := range d.Causes {
			parts = append(parts, strings.TrimSpace(c.Field+": "+c.Message))
		}
		msg = strings.Join(parts, "; ")
	}
	return &problem{status: http.StatusBadRequest, msg: "the Kubernetes API server refused the Purge", detail: msg}
}

// createTimeout bounds the creation of one batch's Purges.
const createTimeout = 30 * time.Second

// createAttempts bounds the attempts at one Purge on errors that another
// attempt may not meet: a generated name already taken, an API server
// busy or timing out.
const createAttempts = 3

// createBatch creates the Purges of a closed batch. The API server is the
// only judge of what a Purge may hold, and asking it once per batch rather
// than once per request is what lets the gateway keep up with bursts: the
// batch's Purges are created as they are. Only if the API server refuses
// them is each request asked about alone (a dry run), so that the ones it
// refuses get its message and the rest still get their Purges. Requests
// differ from their union only in size, which chunk keeps within the
// API's bounds, so a request accepted alone is accepted in the batch.
func (g *Gateway) createBatch(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	err := g.createAll(ctx, b)
	if isRefusal(err) && len(b.purges) == 0 {
		for _, m := range b.members {
			m.err = g.validate(ctx, b.key, m.work, m.line)
		}
		err = g.createAll(ctx, b)
	}
	if err != nil {
		b.err = apiProblem(err)
		if len(b.purges) > 0 {
			b.err.detail += fmt.Sprintf(" (%d Purges were created: %s)", len(b.purges), strings.Join(purgeNames(b.purges), ", "))
		}
		g.log.Error(err, "Creating a Purge failed", "namespace", b.key.namespace, "cacheProxy", b.key.cacheProxy, "requests", len(b.members))
		return
	}
	g.log.V(1).Info("Created Purges", "namespace", b.key.namespace, "purges", purgeNames(b.purges),
		"requests", len(b.members), "requestedBy", b.key.requestedBy)
}

// createAll creates the Purges of the batch's accepted members, all or
// none as far as the API server's judgement goes: a batch that needs
// several Purges is dry-run whole before the first is created, so a
// refusal never leaves some of them behind.
func (g *Gateway) createAll(ctx context.Context, b *batch) error {
	lines := b.accept()
	if len(lines) == 0 {
		return nil
	}
	urls, tags := chunk(b.urls.list, b.tags.list)
	purges := make([]*cachev1alpha1.Purge, len(urls))
	for i := range urls {
		purges[i] = purgeFor(b.key, urls[i], tags[i], lines)
	}
	if len(purges) > 1 {
		for _, p := range purges {
			if err := g.client.Create(ctx, p.DeepCopy(), client.DryRunAll); err != nil {
				return fmt.Errorf("creating Purge %s/%s* (dry run): %w", p.Namespace, p.GenerateName, err)
			}
		}
	}
	for _, p := range purges {
		created, err := g.create(ctx, p)
		if err != nil {
			return err
		}
		b.purges = append(b.purges, created)
	}
	return nil
}

// isRefusal reports whether the API server refused a Purge as invalid,
// rather than failed to answer.
func isRefusal(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

func (g *Gateway) create(ctx context.Context, p *cachev1alpha1.Purge) (*cachev1alpha1.Purge, error) {
	var err error
	for range createAttempts {
		attempt := p.DeepCopy()
		if err = g.client.Create(ctx, attempt); err == nil {
			return attempt, nil
		}
		if !apierrors.IsAlreadyExists(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) && !apierrors.IsTooManyRequests(err) {
			break
		}
	}
	return nil, fmt.Errorf("creating Purge %s/%s*: %w", p.Namespace, p.GenerateName, err)
}

func purgeNames(ps []*cachev1alpha1.Purge) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}
