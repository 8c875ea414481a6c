package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// Varnish-style methods, served on any path.
const (
	methodPurge     = "PURGE"
	methodBan       = "BAN"
	methodPurgeKeys = "PURGEKEYS"
)

// Path prefixes of the REST dialects.
const (
	fastlyPrefix     = "/service/"
	fastlyURLPrefix  = "/purge/"
	cloudflarePrefix = "/client/v4/zones/"
)

// headerPurgeWait asks, in every dialect, for the answer to wait until the
// Purges finish, for at most its duration ("10s").
const headerPurgeWait = "X-Purge-Wait"

// headerPurgeName names, in every dialect's answer, the Purges the request
// went into, comma separated.
const headerPurgeName = "X-Purge-Name"

// ServeHTTP routes a request to its dialect by method and path.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == methodPurge || r.Method == methodBan || r.Method == methodPurgeKeys:
		g.serveVarnish(w, r)
	case strings.HasPrefix(r.URL.Path, fastlyPrefix), strings.HasPrefix(r.URL.Path, fastlyURLPrefix):
		g.serveFastly(w, r)
	case strings.HasPrefix(r.URL.Path, cloudflarePrefix):
		g.serveCloudflare(w, r)
	default:
		writeVarnishProblem(w, &problem{
			status: http.StatusMethodNotAllowed,
			msg:    fmt.Sprintf("the purge gateway does not serve %s %s", r.Method, r.URL.Path),
			detail: "send PURGE, BAN or PURGEKEYS (Varnish clients) on any path, or POST to /service/<namespace>.<name>/purge... or /purge/<host>/<path> (Fastly clients) " +
				"or /client/v4/zones/<namespace>.<name>/purge_cache (Cloudflare clients)",
			allow: []string{methodPurge, methodBan, methodPurgeKeys},
		})
	}
}

// order is what a dialect hands to the common pipeline.
type order struct {
	source cachev1alpha1.PurgeSource
	// line is the request line and the headers that matter, for the
	// Purge's request annotation.
	line string
	addr address
	// wait is how long the answer may wait for the Purges to finish.
	wait time.Duration
	// translate builds the request's work once its CacheProxy is known.
	translate func(cp *cachev1alpha1.CacheProxy) (work, *problem)
}

// receipt is what a dialect answers on success.
type receipt struct {
	// purges the request went into.
	purges []string
	batch  *batch
	work   work
	// waited says whether outcome holds anything.
	waited  bool
	outcome outcome
}

// run takes one request through authentication, addressing, authorisation
// and coalescing (where the API server validates its Purges), and waits
// for them when asked.
func (g *Gateway) run(r *http.Request, o order) (*receipt, *problem) {
	ctx := r.Context()
	may, prob := g.accessFor(ctx, r)
	if prob != nil {
		return nil, prob
	}
	cp, who, prob := g.resolve(ctx, o.addr, may)
	if prob != nil {
		return nil, prob
	}
	w, prob := o.translate(cp)
	if prob != nil {
		return nil, prob
	}
	if prob := checkHosts(cp, w); prob != nil {
		return nil, prob
	}
	// From here on the request is taken: its Purges are created (or the
	// API server's refusal of them is its answer) even if the client hangs
	// up, and it is answered only once they exist.
	b, m := g.batches.join(keyFor(cp, who, o.source, w), w, o.line)
	<-b.done
	switch {
	case m.err != nil:
		return nil, m.err
	case b.err != nil:
		return nil, b.err
	}
	rec := &receipt{purges: b.namesFor(w), batch: b, work: w}
	if o.wait > 0 {
		out, err := g.waits.wait(ctx, cp.Namespace, rec.purges, o.wait)
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, internal(err)
		}
		rec.waited, rec.outcome = true, out
	}
	return rec, nil
}

// accessFor authenticates the request's token and returns how to decide
// whether it may purge a CacheProxy. Without a token only a CacheProxy's
// allowUnauthenticatedFrom can let it in.
func (g *Gateway) accessFor(ctx context.Context, r *http.Request) (access, *problem) {
	token := bearerToken(r)
	if token == "" {
		return g.unauthenticatedAccess(r.RemoteAddr), nil
	}
	who, err := g.reviews.authenticate(ctx, token)
	if err != nil {
		return nil, internal(err)
	}
	if who == nil {
		return nil, errBadToken
	}
	return func(ctx context.Context, cp *cachev1alpha1.CacheProxy) (*caller, *problem) {
		ok, err := g.reviews.mayCreatePurges(ctx, who, cp.Namespace)
		if err != nil {
			return nil, internal(err)
		}
		if !ok {
			return nil, forbidden(who, cp.Namespace)
		}
		return who, nil
	}, nil
}

// parseWait reads a wait duration ("10s") from ?wait= or X-Purge-Wait.
func (g *Gateway) parseWait(v string) (time.Duration, *problem) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badRequest("wait %q is not a duration such as 10s", v)
	}
	if d > g.opts.MaxWait {
		return 0, badRequest("wait %s is longer than the gateway allows (%s)", d, g.opts.MaxWait)
	}
	return d, nil
}

// readBody reads a request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *problem) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, newProblem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes), "")
	case err != nil:
		return nil, badRequest("reading the body: %v", err)
	}
	return data, nil
}

// writeJSON answers status with v as JSON, naming the request's Purges in
// X-Purge-Name when there are any.
func writeJSON(w http.ResponseWriter, status int, v any, purges []string) {
	if len(purges) > 0 {
		w.Header().Set(headerPurgeName, strings.Join(purges, ","))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// prepare sets the headers every refusal carries.
func (p *problem) prepare(w http.ResponseWriter) {
	if len(p.allow) > 0 {
		w.Header().Set("Allow", strings.Join(p.allow, ", "))
	}
}

// describeRequest is the request line and the given headers, for the
// Purge's request annotation: "varnish: PURGE / X-Magento-Tags-Pattern: ...".
func describeRequest(source cachev1alpha1.PurgeSource, r *http.Request, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s", source, r.Method, r.URL.RequestURI())
	for _, h := range headers {
		if v := r.Header.Get(h); v != "" {
			fmt.Fprintf(&b, " %s: %s", h, v)
		}
	}
	return b.String()
}

// refused writes prob, or the failure a wait saw, with fail (the
// dialect's shape of a refusal) and reports whether it did; otherwise it
// sets the headers every success carries and the dialect writes its answer.
func refused(w http.ResponseWriter, rec *receipt, prob *problem, fail func(http.ResponseWriter, *problem)) bool {
	if prob == nil {
		prob = rec.failure()
	}
	if prob != nil {
		fail(w, prob)
		return true
	}
	rec.setWaitHeaders(w)
	return false
}
