package purge

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// timeoutError is a net.Error that timed out, as a dial or read does.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	status := func(code int) error { return fmt.Errorf("calling pod: %w", &admin.StatusError{StatusCode: code}) }
	for _, tc := range []struct {
		name string
		err  error
		want failure
	}{
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), failure{reason: failureTimeout}},
		{"net timeout", fmt.Errorf("dial: %w", timeoutError{}), failure{reason: failureTimeout}},
		{"connection refused", errors.New("dial tcp 10.0.0.1:9090: connect: connection refused"), failure{reason: failureNetwork}},
		{"401: pods roll onto a new token", status(401), failure{reason: failureUnauthorized}},
		{"503: a pod draining", status(503), failure{reason: failureServerError}},
		{"400: the request itself", status(400), failure{reason: failureRefused, final: true}},
		{"409: an id reused with another request", status(409), failure{reason: failureRefused, final: true}},
		{"413: the request itself", status(413), failure{reason: failureRefused, final: true}},
		{"422: the request itself", status(422), failure{reason: failureRefused, final: true}},
		{"404: another version of the proxy, maybe rolling", status(404), failure{reason: failureRefused}},
		{"429", status(429), failure{reason: failureRefused}},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: classify = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
