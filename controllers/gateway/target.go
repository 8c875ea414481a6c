package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// PurgeServiceSuffix ends the name of the ExternalName Service the operator
// creates for a CacheProxy with spec.purgeGateway.enabled: <name>-purge.
const PurgeServiceSuffix = "-purge"

// address is how a request names its CacheProxy.
type address struct {
	// id is "<namespace>.<name>" from a Fastly or Cloudflare path.
	id string
	// host is the Host header without its port, lower-case, for Varnish
	// clients, which cannot choose their path.
	host string
	// site says host is a site's host (the URL of a Fastly URL purge),
	// only ever looked up among spec.hosts, never read as the name of a
	// <name>-purge Service.
	site bool
}

// howToAddress ends every 404: how a client names a CacheProxy.
const howToAddress = "name a CacheProxy as <namespace>.<name> in the path (/service/web.edge/purge, /client/v4/zones/web.edge/purge_cache), " +
	"or, for PURGE and BAN requests, send them to <name>-purge.<namespace>.svc (set spec.purgeGateway.enabled on the CacheProxy) " +
	"or with a Host header listed in its spec.hosts"

// named parses "<namespace>.<name>" (both DNS labels, so the first dot
// splits them) and "<name>-purge.<namespace>[.svc[.<cluster domain>]]".
func (a address) named() (namespace, name string, ok bool) {
	if a.id != "" {
		ns, n, found := strings.Cut(a.id, ".")
		return ns, n, found && isLabel(ns) && isLabel(n)
	}
	if a.site {
		return "", "", false
	}
	labels := strings.Split(a.host, ".")
	if len(labels) < 2 || (len(labels) > 2 && labels[2] != "svc") {
		return "", "", false
	}
	n, found := strings.CutSuffix(labels[0], PurgeServiceSuffix)
	return labels[1], n, found && isLabel(n) && isLabel(labels[1])
}

func isLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// hostOf is the host of a Host header: port dropped, lower-case, no
// trailing dot.
func hostOf(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// access decides whether who may purge cp; who is nil for a request
// without a token, which only a CacheProxy's allowUnauthenticatedFrom can
// let in (and then becomes the caller).
type access func(ctx context.Context, cp *cachev1alpha1.CacheProxy) (*caller, *problem)

// resolve finds the CacheProxy a request addresses and the caller it is
// served as. A CacheProxy named outright answers 403 when the caller may
// not purge it, whether it exists or not; one found by Host is looked up
// only among those the caller may purge.
func (g *Gateway) resolve(ctx context.Context, a address, may access) (*cachev1alpha1.CacheProxy, *caller, *problem) {
	if ns, name, ok := a.named(); ok {
		var cp cachev1alpha1.CacheProxy
		err := g.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cp)
		missing := apierrors.IsNotFound(err)
		switch {
		case missing:
			// Decide access on the name alone, so a 404 tells nothing to
			// a caller who may not purge there.
			cp.Namespace, cp.Name = ns, name
		case err != nil:
			return nil, nil, internal(fmt.Errorf("reading CacheProxy %s/%s: %w", ns, name, err))
		}
		who, prob := may(ctx, &cp)
		if prob != nil {
			return nil, nil, prob
		}
		if missing {
			// The cache holds a new CacheProxy a moment after it is
			// created: ask the API server before answering 404. Only a
			// caller the access check let in gets here (its
			// allowUnauthenticatedFrom cannot apply before the object is
			// read), and one read costs less than the Purge that caller
			// may create anyway.
			err := g.apiReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cp)
			switch {
			case apierrors.IsNotFound(err):
				return nil, nil, newProblem(http.StatusNotFound, fmt.Sprintf("no CacheProxy %s in namespace %s", name, ns), howToAddress)
			case err != nil:
				return nil, nil, internal(fmt.Errorf("reading CacheProxy %s/%s: %w", ns, name, err))
			}
		}
		return &cp, who, nil
	}
	if a.id != "" {
		return nil, nil, newProblem(http.StatusNotFound, fmt.Sprintf("%q does not name a CacheProxy", a.id), howToAddress)
	}

	var list cachev1alpha1.CacheProxyList
	if err := g.client.List(ctx, &list); err != nil {
		return nil, nil, internal(fmt.Errorf("listing CacheProxies: %w", err))
	}
	var found []*cachev1alpha1.CacheProxy
	var who *caller
	var refused *problem
	for i := range list.Items {
		cp := &list.Items[i]
		if a.host == "" || !slices.Contains(cp.Spec.Hosts, a.host) {
			continue
		}
		w, prob := may(ctx, cp)
		switch {
		case prob != nil && prob.status >= 500:
			return nil, nil, prob
		case prob != nil:
			refused = prob
			continue
		}
		found, who = append(found, cp), w
	}
	switch len(found) {
	case 0:
		if refused != nil && refused.status == http.StatusUnauthorized {
			return nil, nil, refused
		}
		return nil, nil, newProblem(http.StatusNotFound,
			fmt.Sprintf("no CacheProxy you may purge serves host %q", a.host), howToAddress)
	case 1:
		return found[0], who, nil
	}
	names := make([]string, len(found))
	for i, cp := range found {
		names[i] = cp.Namespace + "/" + cp.Name
	}
	slices.Sort(names)
	return nil, nil, newProblem(http.StatusConflict,
		fmt.Sprintf("host %q is served by several CacheProxies: %s", a.host, strings.Join(names, ", ")),
		"address one of them: send the request to <name>-purge.<namespace>.svc")
}
