package cacheproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
)

// The one place where failures to reach the origin become client answers:
//
//	connection refused, reset, DNS failure, bad response → 502 Bad Gateway
//	timeout (dial, response headers, fetch deadline)      → 504 Gateway Timeout
//	client went away                                      → 499 (logged, nothing written)
//
// A stored copy that stale-if-error (or a soft purge) allows is served
// instead of any of these; see Proxy.fetch.

// statusClientClosed is nginx's convention for "the client went away".
const statusClientClosed = 499

// originFailure classifies an error from the origin round trip into the
// status to answer and the Cache-Status detail naming it.
func originFailure(err error) (status int, detail string) {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "client-closed"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout, "origin-timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return http.StatusBadGateway, "origin-refused"
	default:
		return http.StatusBadGateway, "origin-error"
	}
}

// writeOriginError answers a request the origin could not serve.
func writeOriginError(w http.ResponseWriter, status int, cs cacheStatus) {
	if status == statusClientClosed {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Cache-Status", cs.String())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + ": the origin server " + describe(cs.detail) + "\n"))
}

func describe(detail string) string {
	switch detail {
	case "origin-timeout":
		return "did not answer in time"
	case "origin-refused":
		return "refused the connection"
	default:
		return "could not be reached or sent an invalid response"
	}
}
