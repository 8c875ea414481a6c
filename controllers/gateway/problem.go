package gateway

import (
	"fmt"
	"net/http"
)

// problem is a refusal: a status, what is wrong and what to do. Each
// dialect renders it in the shape its clients parse (Fastly's msg/detail,
// Cloudflare's errors list, plain JSON for Varnish clients).
type problem struct {
	status int
	// msg says what is wrong, in one sentence.
	msg string
	// detail says what to do about it; may be empty.
	detail string
	// allow lists the methods a 405 names in its Allow header.
	allow []string
}

func (p *problem) Error() string {
	if p.detail == "" {
		return p.msg
	}
	return p.msg + ": " + p.detail
}

func newProblem(status int, msg, detail string) *problem {
	return &problem{status: status, msg: msg, detail: detail}
}

func badRequest(format string, args ...any) *problem {
	return &problem{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// Problems every dialect shares.
var (
	errNoToken = newProblem(http.StatusUnauthorized, "no token",
		"send a Kubernetes bearer token (kubectl create token SERVICEACCOUNT) as 'Authorization: Bearer TOKEN' or 'Fastly-Key: TOKEN'")
	errBadToken = newProblem(http.StatusUnauthorized, "the token was refused",
		"the Kubernetes API server does not accept this token (expired, revoked, or its ServiceAccount was deleted); get a new one with kubectl create token SERVICEACCOUNT")
)

// internal is a failure of the gateway or the API server, not of the
// request: 500, and the request may be retried.
func internal(err error) *problem {
	return &problem{status: http.StatusInternalServerError, msg: "the gateway could not complete the request", detail: err.Error()}
}
