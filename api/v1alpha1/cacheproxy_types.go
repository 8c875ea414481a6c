package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CacheProxySpec is the desired fleet of caching reverse proxies.
type CacheProxySpec struct {
	// replicas is the number of cacheproxy pods. Each pod holds its own
	// cache; a Purge reaches every one of them. The scale subresource points
	// here, so `kubectl scale` and a HorizontalPodAutoscaler work.
	// Default 1; 0 stops the fleet; at most 500.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=500
	Replicas *int32 `json:"replicas,omitempty"`

	// origin is the server the proxies forward cache misses to.
	// +required
	Origin OriginSpec `json:"origin"`

	// hosts lists the Host header values the proxies serve, lower-case DNS
	// names such as www.example.com. Requests for other hosts are refused,
	// and so are Purges naming URLs of other hosts. Empty means every host
	// is served. At most 64 entries.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="must be a lower-case DNS name such as www.example.com, without scheme, port or path"
	Hosts []string `json:"hosts,omitempty"`

	// cache sizes each pod's in-memory cache.
	// +optional
	// +kubebuilder:default={}
	Cache CacheSpec `json:"cache,omitempty"`

	// image overrides the cacheproxy container image the operator was
	// started with (its --cacheproxy-image flag). Empty uses that default.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the cacheproxy container's compute requests and limits.
	// Unset requests default to 100m CPU and cache.maxSize plus 25% plus
	// 64Mi of memory, so the scheduler reserves what the cache will use
	// (cacheproxy caps its Go heap at cache.maxSize + 25% + 32Mi). An unset
	// memory limit is that memory, or the memory request when it is larger:
	// a smaller request packs pods tighter without lowering the limit below
	// what the cache grows to.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// purgeGateway says how the operator's purge gateway, which turns the
	// invalidation requests of content systems and CDN-API tools into
	// Purges, serves this CacheProxy. Unset: it is served to callers with
	// a token only, and no <name>-purge Service is created.
	// +optional
	PurgeGateway *PurgeGatewaySpec `json:"purgeGateway,omitempty"`
}

// OriginSpec says where cache misses go.
type OriginSpec struct {
	// url is the origin's absolute http:// or https:// base URL, for
	// example http://web.web.svc:8080. Requests keep their path and query
	// and their Host header. At most 2048 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="origin.url must be an absolute http:// or https:// URL with a host, such as http://web.web.svc:8080"
	URL string `json:"url"`

	// timeoutSeconds bounds one origin request, from sending it to the end
	// of the response headers. Default 30; between 1 and 600.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
}

// CacheSpec sizes the cache of each pod.
type CacheSpec struct {
	// maxSize bounds the memory each pod uses for cached objects, as a
	// quantity of bytes such as 256Mi or 1Gi. Beyond it the least valuable
	// objects are evicted. Default 256Mi; at least 1Mi.
	// +optional
	// +kubebuilder:default="256Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="cache.maxSize must be at least 1Mi"
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`

	// maxObjectSize is the largest response body a pod stores; larger ones
	// are streamed to the client and not cached. Default: 1/8 of maxSize,
	// at most 64Mi; at most maxSize.
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1')) >= 0",message="cache.maxObjectSize must be at least 1 byte"
	MaxObjectSize *resource.Quantity `json:"maxObjectSize,omitempty"`

	// invalidateOnUnsafeMethods says whether a client's successful request
	// with an unsafe method (POST, PUT, DELETE, PATCH, or any method not
	// known to be safe) on the public port removes the cached URL and its
	// same-host Location and Content-Location, as RFC 9111 §4.4 asks of a
	// shared cache. That is an unauthenticated way to evict: set false to
	// close it, so content changes only by expiry and through Purges.
	// Default true.
	// +optional
	// +kubebuilder:default=true
	InvalidateOnUnsafeMethods *bool `json:"invalidateOnUnsafeMethods,omitempty"`
}

// CacheProxyStatus is the observed state of the fleet.
type CacheProxyStatus struct {
	// replicas is the number of cacheproxy pods that exist, ready or not.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of pods passing their readiness probe.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// selector is the label selector of the fleet's pods, in string form,
	// for the scale subresource (HorizontalPodAutoscaler reads it).
	// +optional
	Selector string `json:"selector,omitempty"`

	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Available says whether the fleet serves traffic.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// CacheProxy is a managed fleet of caching reverse proxies in front of one
// origin: a Deployment of cacheproxy pods, a Service for client traffic on
// port 8080, and a Secret with the token of their admin API.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=cpx,categories=cacheops
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.spec.origin.url`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CacheProxy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CacheProxySpec `json:"spec"`
	// +optional
	Status CacheProxyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CacheProxyList is a list of CacheProxy.
type CacheProxyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CacheProxy `json:"items"`
}
