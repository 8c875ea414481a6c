package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PurgeGatewaySpec opts a CacheProxy into the purge gateway's conveniences.
// The gateway serves every CacheProxy whatever this says, to callers whose
// Kubernetes token may create Purges in its namespace.
type PurgeGatewaySpec struct {
	// enabled makes the operator create a Service named <name>-purge of
	// type ExternalName in the CacheProxy's namespace, pointing at the
	// operator's purge gateway, so content systems configure
	// http://<name>-purge.<namespace>.svc:8090 as their "Varnish host"
	// and the gateway knows from the Host header which CacheProxy they
	// mean. Default false.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// allowUnauthenticatedFrom lets clients that cannot send a token (the
	// Magento core purger sends no header it is not told to) purge this
	// CacheProxy without one, when the request comes from a pod these
	// selectors pick. The gateway looks the pod up by the request's source
	// address. Such Purges say "requested-by: unauthenticated
	// <namespace>/<pod>". Unset: every request needs a token.
	// +optional
	AllowUnauthenticatedFrom *PurgeSourcePods `json:"allowUnauthenticatedFrom,omitempty"`
}

// PurgeSourcePods picks pods as a NetworkPolicy peer does.
//
// +kubebuilder:validation:XValidation:rule="has(self.podSelector) || has(self.namespaceSelector)",message="set podSelector, namespaceSelector or both: allowUnauthenticatedFrom without either would pick nothing"
type PurgeSourcePods struct {
	// podSelector picks pods by label in the namespaces namespaceSelector
	// picks. Unset: every pod of those namespaces.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// namespaceSelector picks namespaces by label. Unset: the CacheProxy's
	// own namespace only.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// PurgeSource is the client family a Purge created by the purge gateway
// came from: the value of LabelPurgeSource.
type PurgeSource string

const (
	// PurgeSourceFastly is a request in the Fastly purge API's shape
	// (POST /service/{id}/purge...).
	PurgeSourceFastly PurgeSource = "fastly"
	// PurgeSourceCloudflare is a request in the Cloudflare purge API's shape
	// (POST /client/v4/zones/{id}/purge_cache).
	PurgeSourceCloudflare PurgeSource = "cloudflare"
	// PurgeSourceVarnish is a Varnish-style PURGE, BAN or PURGEKEYS request,
	// as content systems (Magento, Drupal, WordPress, Symfony, API
	// Platform, Shopware, TYPO3) send them.
	PurgeSourceVarnish PurgeSource = "varnish"
)

// Labels and annotations the purge gateway puts on the Purges it creates.
const (
	// LabelPurgeSource says which client family the request came in:
	// fastly, cloudflare or varnish.
	LabelPurgeSource = "cache.cacheops.io/source"

	// AnnotationRequestedBy is the Kubernetes user the gateway
	// authenticated (a ServiceAccount such as
	// system:serviceaccount:web:cms), or "unauthenticated
	// <namespace>/<pod>" for a request the CacheProxy's
	// allowUnauthenticatedFrom let in. A ValidatingAdmissionPolicy in
	// config/ lets only the operator's ServiceAccount set it, so it cannot
	// be forged with kubectl apply.
	AnnotationRequestedBy = "cache.cacheops.io/requested-by"
	// AnnotationRequestedByGroups holds that user's groups, comma
	// separated. Protected like AnnotationRequestedBy.
	AnnotationRequestedByGroups = "cache.cacheops.io/requested-by-groups"
	// AnnotationRequest holds the request line(s) the Purge came from,
	// with their dialect, one a line ("varnish: PURGE / X-Magento-Tags-Pattern: ...").
	AnnotationRequest = "cache.cacheops.io/request"
)

// Bounds of a Purge's lists, as the markers on PurgeSpec state them (a
// test in controllers/gateway holds the two together): the purge gateway
// splits what exceeds them over several Purges.
const (
	// MaxPurgeURLs is the most URLs one Purge holds.
	MaxPurgeURLs = 256
	// MaxPurgeTags is the most tags one Purge holds.
	MaxPurgeTags = 256
)
