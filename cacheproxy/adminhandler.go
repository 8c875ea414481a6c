package cacheproxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// AdminHandler serves the admin API (package admin): /healthz, /readyz and
// /metrics without a token; POST /v1/invalidations and GET /v1/stats with
// "Authorization: Bearer <Config.AdminToken>". Every refusal is JSON
// (admin.ErrorResponse): 401 without a valid token, 400 for a bad request,
// 413 for a body over admin.MaxBodyBytes, 404 and 405 for other paths and
// methods. Serve it on its own listener, never on the public one.
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+admin.HealthzPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+admin.ReadyzPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !p.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("draining\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET "+admin.MetricsPath, p.metrics.handler())
	mux.Handle("POST "+admin.InvalidationsPath, p.authenticated(http.HandlerFunc(p.serveInvalidation)))
	mux.Handle("GET "+admin.StatsPath, p.authenticated(http.HandlerFunc(p.serveStats)))
	mux.HandleFunc(admin.InvalidationsPath, methodNotAllowed("POST"))
	mux.HandleFunc(admin.StatsPath, methodNotAllowed("GET"))
	for _, path := range []string{admin.HealthzPath, admin.ReadyzPath, admin.MetricsPath} {
		mux.HandleFunc(path, methodNotAllowed("GET"))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no admin endpoint at "+r.URL.Path)
	})
	return mux
}

// authenticated requires the bearer token, compared in constant time
// (hashes of equal length, so the token's length does not leak either).
func (p *Proxy) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		given := sha256.Sum256([]byte(strings.TrimSpace(token)))
		want, err := p.token.current()
		ok := err == nil && strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare(given[:], want[:]) == 1
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cacheproxy admin"`)
			writeJSONError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Proxy) serveInvalidation(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > admin.MaxBodyBytes {
		writeJSONError(w, http.StatusRequestEntityTooLarge, admin.ErrBodyTooLarge.Error())
		return
	}
	req, err := admin.DecodeInvalidationRequest(r.Body)
	switch {
	case errors.Is(err, admin.ErrBodyTooLarge):
		writeJSONError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := p.invalidate(r.Context(), req)
	var conflict *conflictError
	switch {
	case isClientError(err):
		writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &conflict):
		writeJSONError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// isClientError reports whether err should be answered with 400.
func isClientError(err error) bool {
	var re *requestError
	return errors.As(err, &re)
}

func (p *Proxy) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.stats())
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" not allowed on "+r.URL.Path+"; use "+allow)
	}
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, admin.ErrorResponse{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
