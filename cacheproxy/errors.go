package cacheproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// The one place where failures to reach the origin become client answers:
//
//	connection refused, reset, DNS failure, bad response → 502 Bad Gateway
//	unknown transfer coding in the response              → 502, detail=origin-unsupported-transfer-coding
//	timeout (dial, response headers, fetch deadline)      → 504 Gateway Timeout
//	client went away                                      → 499 (logged, nothing written)
//
// A stored copy that stale-if-error (or a soft purge) allows is served
// instead of any of these; see Proxy.fetch.

// statusClientClosed is nginx's convention for "the client went away".
const statusClientClosed = 499

// originFailure classifies an error from the origin round trip into the
// status to answer and the Cache-Status detail naming it.
func originFailure(err error) (status int, detail cacheDetail) {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return statusClientClosed, detailClientClosed
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout, detailOriginTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return http.StatusBadGateway, detailOriginRefused
	case errors.As(err, new(*originResponseError)):
		return http.StatusBadGateway, detailOriginInvalid
	case strings.Contains(err.Error(), "unsupported transfer encoding"):
		// net/http refuses a response whose Transfer-Encoding is not just
		// "chunked" (its error type is unexported): never stored, and the
		// client is told why.
		return http.StatusBadGateway, detailOriginCoding
	default:
		return http.StatusBadGateway, detailOriginError
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
	_, _ = w.Write([]byte(http.StatusText(status) + ": the origin server " + cs.detail.describe() + "\n"))
}
