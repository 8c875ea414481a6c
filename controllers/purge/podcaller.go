package purge

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// PodCaller sends one invalidation to one pod's admin API. The Purge
// controller reaches pods only through it, so tests can count calls and
// the network stays injectable.
type PodCaller interface {
	// Invalidate posts req to the admin API at endpoint
	// ("http://10.1.2.3:9090") with the bearer token.
	Invalidate(ctx context.Context, endpoint, token string, req admin.InvalidationRequest) (admin.InvalidationResult, error)
}

// AdminCaller is the PodCaller that speaks HTTP through admin.Client.
type AdminCaller struct {
	// HTTPClient is shared by every call so connections to pods are reused.
	HTTPClient *http.Client
}

// NewAdminCaller returns an AdminCaller whose transport keeps connections
// to up to maxPods pods alive between Purges.
func NewAdminCaller(maxPods int) AdminCaller {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxPods
	t.MaxIdleConnsPerHost = 2
	t.IdleConnTimeout = 90 * time.Second
	// Admin calls go straight to pod IPs: never through a proxy.
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return AdminCaller{HTTPClient: &http.Client{Transport: t}}
}

// Invalidate implements PodCaller.
func (c AdminCaller) Invalidate(ctx context.Context, endpoint, token string, req admin.InvalidationRequest) (admin.InvalidationResult, error) {
	cl := admin.Client{HTTPClient: c.HTTPClient, Token: token}
	return cl.Invalidate(ctx, endpoint, req)
}

// adminEndpoint is the base URL of a pod's admin API.
func adminEndpoint(ip string, port int32) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port)))
}
