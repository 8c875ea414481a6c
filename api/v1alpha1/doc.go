// Package v1alpha1 holds the cache.cacheops.io/v1alpha1 API: CacheProxy, a
// managed fleet of caching reverse proxies, and Purge, one invalidation of
// their content whose per-pod result is recorded in its status.
//
// The package holds types, constants, markers and read-only helpers
// (PurgeStatus.Finished), no logic that decides anything: what the
// API server must refuse is expressed as OpenAPI and CEL rules on the types,
// so bad objects are refused at `kubectl apply` with a clear message and no
// admission webhook is needed.
//
// +kubebuilder:object:generate=true
// +groupName=cache.cacheops.io
package v1alpha1
