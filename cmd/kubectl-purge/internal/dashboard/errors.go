package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiError is the JSON body of every failed /api request. The page shows
// message in its alert region as it is: for a refusal of the API server it
// is the API server's own message, which names the user, the verb, the
// resource and the namespace; for a refused field, the API's reason
// without the error type and value the API server puts first (plain.go).
type apiError struct {
	Message string `json:"message"`
	// Reason is the API server's reason (Forbidden, Invalid, NotFound...),
	// empty for the dashboard's own errors.
	Reason metav1.StatusReason `json:"reason,omitempty"`
	// Causes are the field errors of an Invalid refusal, each message in
	// plain words (plainCause).
	Causes []metav1.StatusCause `json:"causes,omitempty"`
}

// writeError answers err: an API server refusal with its status code and
// message, anything else (the cluster unreachable, say) as a 502.
func writeError(w http.ResponseWriter, err error) {
	code, body := errorBody(err)
	writeJSON(w, code, body)
}

// errorBody is the status code and body writeError answers err with.
func errorBody(err error) (int, apiError) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code == 0 {
		return http.StatusBadGateway, apiError{Message: err.Error()}
	}
	st := status.Status()
	body := apiError{Message: st.Message, Reason: st.Reason}
	if st.Details == nil {
		return int(st.Code), body
	}
	// The causes are the fields the API server refused, each in plain
	// words (plain.go); so is the message that lists them all.
	body.Causes = make([]metav1.StatusCause, len(st.Details.Causes))
	for i, c := range st.Details.Causes {
		c.Message = plainCause(c)
		body.Causes[i] = c
	}
	if st.Reason == metav1.StatusReasonInvalid && len(body.Causes) > 0 {
		body.Message = plainInvalid(st.Details.Kind, body.Causes)
	}
	return int(st.Code), body
}

// badRequest answers a request the page should not have made.
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, apiError{Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
