package controllers

// The manager's permissions are collected into config/rbac/role.yaml by
// `make manifests` from the markers in each controller file. Shared ones:

// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
