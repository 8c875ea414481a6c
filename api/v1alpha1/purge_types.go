package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PurgeMode says how a Purge treats the cached objects it matches.
// +kubebuilder:validation:Enum=simple;soft;ban
type PurgeMode string

const (
	// PurgeModeSimple removes the matching objects (every Vary variant) at
	// once; the next request for them goes to the origin.
	PurgeModeSimple PurgeMode = "simple"
	// PurgeModeSoft marks the matching objects stale and keeps them: the next
	// request gets the stale copy at once while one background request
	// refreshes it, and the stale copy is served if the origin fails. Use it
	// to protect users from a broken or slow origin.
	PurgeModeSoft PurgeMode = "soft"
	// PurgeModeBan invalidates every object whose URL matches one of the
	// patterns in urls: each is a URL prefix in which "*" matches any run of
	// characters. The scheme is required but does not matter.
	PurgeModeBan PurgeMode = "ban"
)

// PurgeSpec is one invalidation request. It is immutable: to purge again,
// create another Purge.
//
// +kubebuilder:validation:XValidation:rule="(has(self.urls) && size(self.urls) > 0) || (has(self.tags) && size(self.tags) > 0)",message="at least one of urls or tags is required"
// +kubebuilder:validation:XValidation:rule="self.mode != 'ban' || !has(self.tags) || size(self.tags) == 0",message="tags are not allowed with mode ban: a ban matches URL patterns; use mode simple or soft to purge tags"
// +kubebuilder:validation:XValidation:rule="self.mode != 'ban' || !self.refetch",message="refetch is not allowed with mode ban: a pattern names no URL to fetch; use mode simple or soft"
// +kubebuilder:validation:XValidation:rule="self.mode == 'ban' || !has(self.urls) || self.urls.all(u, !u.contains('*'))",message="urls of a simple or soft purge must not contain '*': wildcards are for mode ban"
// +kubebuilder:validation:XValidation:rule="self.mode != 'ban' || !has(self.urls) || self.urls.all(u, !u.matches('^[^:]*://[^/?]*(/[^/?]*)*/(/|([.]|%2[eE]){1,2}([/?]|$))'))",message="a ban pattern's path must not hold a '.' or '..' segment (also spelt %2E) or '//': the cache resolves them before matching, so https://www.example.com/img/../ would ban the whole host; write the pattern as the cache reads it (kubectl purge --ban names it)"
// +kubebuilder:validation:XValidation:rule="self.mode != 'ban' || !has(self.urls) || self.urls.filter(u, u.matches('^[^:]*://[^/?]*[*]')).size() <= 16",message="at most 16 ban patterns may have a '*' in the host: each costs every cache pod a pass over all it stores; split them into several Purges"
// +kubebuilder:validation:XValidation:rule="self.mode != 'ban' || self.confirmHostRootBan || !has(self.urls) || !self.urls.exists(u, u.matches('^[^:]*://[^/?]*(/[*]*)?$'))",message="a ban at a host's root (such as https://www.example.com/) empties that host from the cache and sends all its traffic to the origin; set confirmHostRootBan: true if that is what you want"
type PurgeSpec struct {
	// cacheProxyRef names the CacheProxy, in the Purge's own namespace,
	// whose pods are purged. Whoever may create Purges in a namespace may
	// purge its caches; there is no cross-namespace reference.
	// +required
	CacheProxyRef CacheProxyReference `json:"cacheProxyRef"`

	// mode is simple, soft or ban. Default simple.
	// +optional
	// +kubebuilder:default=simple
	Mode PurgeMode `json:"mode,omitempty"`

	// urls are the objects to purge: absolute http:// or https:// URLs such
	// as https://www.example.com/app.js?v=2 (the query is part of the
	// object; the scheme is not, http and https name the same object; every
	// Vary variant is purged). With mode ban they are patterns instead:
	// https://www.example.com/img/ bans everything under /img/, "*" matches
	// any run of characters, and the path is written as the cache reads
	// it, without '.' or '..' segments (nor %2E) or '//', which the cache
	// resolves (https://www.example.com/img/../ is https://www.example.com/).
	// The host is a name or an [IPv6] literal with an optional numeric
	// :port; user info, #fragments, spaces and control characters are
	// refused, as is a '%' that does not start a %XX escape: no request a
	// cache stores can carry them. At most 256 entries of 2048 characters,
	// of which at most 16 ban patterns with a '*' in the host or port
	// (https://*.example.com/img/): each costs every pod a pass over all it
	// stores.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[hH][tT][tT][pP][sS]?://([-a-zA-Z0-9._~*]+|\\\\[[0-9a-fA-F:.]+\\\\])(:[0-9*]{1,5})?([/?]([^[:cntrl:][:space:]#%]|%[0-9a-fA-F]{2})*)?$')",message="must be an absolute http:// or https:// URL such as https://www.example.com/app.js: a host of letters, digits, '-', '.', '_', '~' (and '*' in a ban) or an [IPv6] literal, an optional numeric :port ('*' allowed in a ban), no user info, no #fragment, no spaces or control characters, and '%' only in %XX escapes"
	URLs []string `json:"urls,omitempty"`

	// tags are surrogate keys: every object whose origin response carried
	// the tag (in a Surrogate-Key, Cache-Tag, xkey, X-Magento-Tags,
	// Cache-Tags or X-Cache-Tags header) is purged.
	// Simple and soft modes only. At most 256 tags of 256 characters, none
	// empty or containing whitespace or commas.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[^[:cntrl:][:space:],]+$')",message="a tag must be non-empty and contain no spaces, commas or control characters (origins send tags space- or comma-separated)"
	Tags []string `json:"tags,omitempty"`

	// refetch makes each pod fetch every purged URL from the origin right
	// after the invalidation and store the fresh copy, so no user pays the
	// miss. For tags, the URLs that carried the tag are fetched. Simple and
	// soft modes only. Default false.
	// +optional
	// +kubebuilder:default=false
	Refetch bool `json:"refetch,omitempty"`

	// dryRun counts the objects each pod would invalidate and changes
	// nothing. Default false.
	// +optional
	// +kubebuilder:default=false
	DryRun bool `json:"dryRun,omitempty"`

	// confirmHostRootBan must be true for a ban whose pattern covers a
	// whole host (https://www.example.com/ or https://www.example.com/*):
	// such a ban empties the host from every pod and sends all its traffic
	// to the origin at once. Default false.
	// +optional
	// +kubebuilder:default=false
	ConfirmHostRootBan bool `json:"confirmHostRootBan,omitempty"`

	// deadlineSeconds bounds the whole Purge, from its start: pods that have
	// not answered successfully by then are given up and the Purge is
	// Failed, naming them. Failed calls are retried with exponential backoff
	// until then. Default 120; between 1 and 86400 (a day).
	// +optional
	// +kubebuilder:default=120
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	DeadlineSeconds int32 `json:"deadlineSeconds,omitempty"`

	// ttlSecondsAfterFinished, when set, deletes the Purge that long after
	// it completed or failed, as for Jobs. Unset keeps it forever; 0 deletes
	// it as soon as it finishes. At most 31536000 (a year).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// podNames, when set, limits the Purge to these pods of the CacheProxy,
	// by name: it retries the pods an earlier Purge failed on without
	// calling again those that succeeded (the dashboard's "Retry failed
	// pods" sets it). A named pod that is not a pod of the CacheProxy with
	// an IP when the Purge starts is not targeted; a pod created since
	// then started with an empty cache. Unset: every pod. At most 1000
	// names, each listed once.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=253
	PodNames []string `json:"podNames,omitempty"`
}

// DefaultDeadlineSeconds is the deadlineSeconds of a Purge that sets none:
// the API server fills it in (the +kubebuilder:default marker, which cannot
// name a constant; a test checks that both agree), and the controller
// assumes it for a Purge written before the default existed.
const DefaultDeadlineSeconds int32 = 120

// CacheProxyReference names a CacheProxy in the referrer's namespace.
type CacheProxyReference struct {
	// name of the CacheProxy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PurgePhase summarises a Purge for people; the conditions are the
// contract for programs.
// +kubebuilder:validation:Enum=Pending;Running;Complete;Failed
type PurgePhase string

const (
	// PurgePending means not started yet, for example because the CacheProxy
	// does not exist yet.
	PurgePending PurgePhase = "Pending"
	// PurgeRunning means pods are being called.
	PurgeRunning PurgePhase = "Running"
	// PurgeComplete means every target pod succeeded or is gone.
	PurgeComplete PurgePhase = "Complete"
	// PurgeFailed means some target pod failed for good (deadline passed or a
	// refusal that retrying cannot fix).
	PurgeFailed PurgePhase = "Failed"
)

// PodPurgePhase is where one target pod stands.
// +kubebuilder:validation:Enum=Pending;Succeeded;Failed;Gone
type PodPurgePhase string

const (
	// PodPurgePending means the pod has not answered successfully yet; attempts
	// and lastError say whether calls failed and will be retried.
	PodPurgePending PodPurgePhase = "Pending"
	// PodPurgeSucceeded means the pod applied the invalidation.
	PodPurgeSucceeded PodPurgePhase = "Succeeded"
	// PodPurgeFailed means the pod was given up: the deadline passed, or it
	// refused the call in a way retrying cannot fix (a wrong token, say).
	PodPurgeFailed PodPurgePhase = "Failed"
	// PodPurgeGone means the pod was deleted before it answered; its cache died
	// with it, so there is nothing left to purge. Counts as done.
	PodPurgeGone PodPurgePhase = "Gone"
)

// PodFailureReason says why a target pod was given up.
// +kubebuilder:validation:Enum=DeadlineExceeded;Refused
type PodFailureReason string

const (
	// PodFailureDeadlineExceeded means the Purge's deadline passed before
	// the pod answered successfully.
	PodFailureDeadlineExceeded PodFailureReason = "DeadlineExceeded"
	// PodFailureRefused means the pod refused the call in a way retrying
	// cannot fix (it judged the request invalid or too large).
	PodFailureRefused PodFailureReason = "Refused"
)

// PodPurgeStatus is the result of a Purge on one target pod.
type PodPurgeStatus struct {
	// name of the pod.
	Name string `json:"name"`
	// ip the pod's admin API was called on.
	// +optional
	IP string `json:"ip,omitempty"`
	// phase: Pending, Succeeded, Failed or Gone.
	Phase PodPurgePhase `json:"phase"`
	// failureReason says why a Failed pod was given up: DeadlineExceeded
	// or Refused. Empty unless phase is Failed; lastError has the details.
	// +optional
	FailureReason PodFailureReason `json:"failureReason,omitempty"`
	// attempts counts the calls made to the pod.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// matched counts the cached objects the invalidation matched.
	// +optional
	Matched int64 `json:"matched,omitempty"`
	// invalidated counts the objects removed or marked stale.
	// +optional
	Invalidated int64 `json:"invalidated,omitempty"`
	// refetched counts the URLs fetched again and stored.
	// +optional
	Refetched int64 `json:"refetched,omitempty"`
	// lastError is the error of the last failed call, or the per-URL
	// errors the pod reported (refetches the origin refused, say).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastError string `json:"lastError,omitempty"`
	// lastAttemptTime is when the pod was last called.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
}

// PurgeStatus is the observed progress and result of a Purge.
type PurgeStatus struct {
	// phase is Pending, Running, Complete or Failed, for people; programs
	// should wait on the Complete and Failed conditions.
	// +optional
	Phase PurgePhase `json:"phase,omitempty"`

	// progress is "<done>/<target>": pods that succeeded or are gone, out
	// of the target pods.
	// +optional
	Progress string `json:"progress,omitempty"`

	// startTime is when the target pods were chosen.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the Purge became Complete or Failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// targetPods is the number of pods chosen at start: every pod of the
	// CacheProxy that had an IP, ready or not. Pods created later start
	// with an empty cache and need no purge.
	// +optional
	TargetPods int32 `json:"targetPods,omitempty"`
	// succeededPods counts target pods that applied the invalidation.
	// +optional
	SucceededPods int32 `json:"succeededPods,omitempty"`
	// failedPods counts target pods given up.
	// +optional
	FailedPods int32 `json:"failedPods,omitempty"`
	// gonePods counts target pods deleted before they answered.
	// +optional
	GonePods int32 `json:"gonePods,omitempty"`

	// objectsMatched sums the pods' matched counts.
	// +optional
	ObjectsMatched int64 `json:"objectsMatched,omitempty"`
	// objectsInvalidated sums the pods' invalidated counts.
	// +optional
	ObjectsInvalidated int64 `json:"objectsInvalidated,omitempty"`
	// objectsRefetched sums the pods' refetched counts.
	// +optional
	ObjectsRefetched int64 `json:"objectsRefetched,omitempty"`

	// pods holds one entry per target pod, sorted by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1000
	Pods []PodPurgeStatus `json:"pods,omitempty"`

	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: TargetResolved, Complete and Failed. Wait for the end
	// with `kubectl wait --for=condition=Complete purge/NAME`.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// Purge invalidates content in every pod of a CacheProxy, once, and records
// each pod's result, like a Job: create it, then wait for its Complete
// condition. The spec cannot be changed after creation.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pg,categories=cacheops
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec) || self.spec == oldSelf.spec",message="spec is immutable: a Purge is a one-off request; create a new Purge to purge again"
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.cacheProxyRef.name`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Invalidated",type=integer,JSONPath=`.status.objectsInvalidated`,priority=1
// +kubebuilder:printcolumn:name="Refetched",type=integer,JSONPath=`.status.objectsRefetched`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Purge struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PurgeSpec `json:"spec"`
	// +optional
	Status PurgeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PurgeList is a list of Purge.
type PurgeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Purge `json:"items"`
}
