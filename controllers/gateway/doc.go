// Package gateway is the purge gateway: an HTTP endpoint, served by every
// replica of the manager, that accepts the invalidation requests content
// systems and CDN-API tools already send (Varnish-style PURGE, BAN and
// PURGEKEYS; the Fastly and Cloudflare purge APIs) and turns each into
// Purge objects, so that every pod of a CacheProxy is purged with per-pod
// status, RBAC, history and `kubectl wait`, exactly as if the caller had
// applied YAML.
//
// A request goes through the same steps in every dialect (serve.go):
// read the dialect (fastly.go, cloudflare.go, varnish.go), authenticate the
// caller's Kubernetes token with a TokenReview (auth.go), find the
// CacheProxy it addresses (target.go), check with a SubjectAccessReview that
// the caller may create Purges in its namespace, then join the requests of
// the same CacheProxy, mode and caller that arrive within the coalescing
// window (coalesce.go) into as few Purges as the API's bounds allow
// (purges.go). The API server validates those Purges when they are created,
// once per batch, so the CRD's rules are the only rules; only when it
// refuses a batch is each of its requests dry-run alone, to answer the bad
// ones with its message and create the others. The answer names every
// Purge the request went into; with a wait it comes when they finish
// (wait.go).
//
// The gateway creates the Purges with the manager's own identity and
// records the caller in the cache.cacheops.io/requested-by annotation, which
// a ValidatingAdmissionPolicy lets only the manager set. It never
// impersonates: impersonation rights would make the manager cluster-admin
// in effect.
package gateway
