package controllers

// The manager's permissions, collected into config/rbac/role.yaml by
// `make manifests`. Each controller file adds the markers for what it does.

// +kubebuilder:rbac:groups=cache.cacheops.io,resources=cacheproxies;purges,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
