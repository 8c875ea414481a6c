package v1alpha1

// Labels the operator puts on what it creates. They are API: users select
// a fleet's pods with LabelCacheProxy (kubectl get pods -l
// cache.cacheops.io/cacheproxy=edge), and the manager caches only the
// objects labelled ManagedBy.
const (
	// LabelCacheProxy names the CacheProxy a pod, Deployment, Service or
	// Secret belongs to. The Purge controller finds target pods by it.
	LabelCacheProxy = "cache.cacheops.io/cacheproxy"

	// LabelManagedBy, with the value ManagedBy, marks every object the
	// operator creates. The manager's caches of Deployments, Services and
	// Pods hold only objects carrying it.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "purge-operator"
)
