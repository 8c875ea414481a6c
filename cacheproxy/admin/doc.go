// Package admin is the contract between the operator and the cacheproxy pods:
// the wire types of the admin API, their validation, and the client the
// operator uses to call a pod. Its rules for purge URLs, ban patterns and
// tags (url.go, validate.go) are the product's: the proxy parses with
// them, kubectl-purge checks with them, and the CRD restates them in CEL.
//
// Both halves import this package and nothing else of each other, so the
// protocol has exactly one definition. It depends only on the standard
// library and cacheproxy/cachekey (what a URL names in the cache): the
// proxy must build and run without Kubernetes.
//
// The admin API listens on its own port (9090 by default), never on the
// public one. Every call except /healthz, /readyz and /metrics needs
// "Authorization: Bearer <token>".
//
//	POST /v1/invalidations  InvalidationRequest → 200 InvalidationResult
//	                        400 / 401 / 413 ErrorResponse
//	GET  /v1/stats          → 200 Stats
package admin
