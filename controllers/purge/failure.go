package purge

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// failure is why one admin call failed: the reason label of the
// purge_operator_pod_call_failures_total metric, and whether the pod
// refused the request itself, so that calling again cannot succeed.
type failure struct {
	reason failureReason
	// final means the pod judged the request and refused it (bad
	// request, an id reused with another request, too large): it refuses
	// it again, so the pod is given up
	// at once (PodFailureRefused) instead of retried until the deadline.
	final bool
}

// failureReason is the metric's label of a failed call.
type failureReason string

const (
	// failureTimeout: the call's deadline passed, or the connection timed out.
	failureTimeout failureReason = "timeout"
	// failureNetwork: the pod could not be reached or the connection broke.
	failureNetwork failureReason = "network"
	// failureUnauthorized: 401, usually while pods roll onto a new token.
	failureUnauthorized failureReason = "unauthorized"
	// failureServerError: 5xx, such as a pod draining.
	failureServerError failureReason = "server_error"
	// failureRefused: any other answer than 200.
	failureRefused failureReason = "refused"
)

// classify is the one reading of a failed call's error, for the metric
// and for the pod's status. Only 400, 409, 413 and 422 are final: anything
// else (network, 5xx, 401, another 4xx) may pass later, until the
// Purge's deadline.
func classify(err error) failure {
	var se *admin.StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized:
		return failure{reason: failureUnauthorized}
	case errors.As(err, &se) && se.StatusCode >= 500:
		return failure{reason: failureServerError}
	case errors.As(err, &se):
		switch se.StatusCode {
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			return failure{reason: failureRefused, final: true}
		}
		return failure{reason: failureRefused}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return failure{reason: failureTimeout}
	default:
		return failure{reason: failureNetwork}
	}
}
