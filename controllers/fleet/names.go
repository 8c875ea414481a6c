package fleet

import (
	corev1 "k8s.io/api/core/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// Names of what a fleet is made of. They are deterministic, so a restarted
// operator finds its children again.
const (
	// TokenKey is the Secret key holding the admin API bearer token.
	TokenKey = "token"
	// AdminPortName names the container port of the admin API; the Purge
	// controller calls each pod on the port of that name.
	AdminPortName = "admin"

	labelName     = "app.kubernetes.io/name"
	labelInstance = "app.kubernetes.io/instance"
	appName       = "cacheproxy"
)

// TokenSecretName is the name of the Secret holding a fleet's admin token.
func TokenSecretName(cacheProxy string) string { return cacheProxy + "-admin-token" }

// SelectorLabels select the pods of one CacheProxy.
func SelectorLabels(cacheProxy string) map[string]string {
	return map[string]string{
		labelName:                     appName,
		labelInstance:                 cacheProxy,
		cachev1alpha1.LabelCacheProxy: cacheProxy,
	}
}

// ObjectLabels label every object of a fleet, pods included: the selector
// labels, and managed-by, which scopes the manager's caches to its own
// objects.
func ObjectLabels(cacheProxy string) map[string]string {
	l := SelectorLabels(cacheProxy)
	l[cachev1alpha1.LabelManagedBy] = cachev1alpha1.ManagedBy
	return l
}

// AdminPort is the pod's container port named AdminPortName, or the admin
// API's default port: where the Purge controller calls the pod, and where
// the dashboard reads its metrics through the API server's pod proxy.
func AdminPort(pod *corev1.Pod) int32 {
	if pod != nil {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == AdminPortName {
					return p.ContainerPort
				}
			}
		}
	}
	return admin.DefaultPort
}
