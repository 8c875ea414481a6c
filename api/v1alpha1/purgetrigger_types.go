package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations a PurgeTrigger puts on the Purges it creates.
const (
	// LabelPurgeTrigger names the PurgeTrigger that created a Purge:
	// `kubectl get purges -l cache.cacheops.io/purge-trigger=web`.
	LabelPurgeTrigger = "cache.cacheops.io/purge-trigger"
	// AnnotationWorkloadRevision is the workload revision a Purge followed.
	AnnotationWorkloadRevision = "cache.cacheops.io/workload-revision"
)

// WorkloadKind is the kind of workload a PurgeTrigger follows.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;Rollout
type WorkloadKind string

const (
	// WorkloadDeployment is an apps/v1 Deployment. Its revision is the
	// deployment.kubernetes.io/revision annotation the Deployment
	// controller keeps; a rollback gets a new revision number.
	WorkloadDeployment WorkloadKind = "Deployment"
	// WorkloadStatefulSet is an apps/v1 StatefulSet with the RollingUpdate
	// strategy. Its revision is the number of the ControllerRevision named
	// by status.updateRevision; a rollback renumbers it, so it purges too.
	WorkloadStatefulSet WorkloadKind = "StatefulSet"
	// WorkloadRollout is an Argo Rollouts argoproj.io/v1alpha1 Rollout,
	// followed once its CRD is installed, before the operator starts or
	// after. Its revision is the rollout.argoproj.io/revision annotation.
	WorkloadRollout WorkloadKind = "Rollout"
)

// WorkloadReference names the workload, in the PurgeTrigger's namespace,
// whose rollouts it follows.
type WorkloadReference struct {
	// kind is Deployment, StatefulSet or Rollout (Argo Rollouts).
	// +required
	Kind WorkloadKind `json:"kind"`

	// name of the workload. At most 253 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// PurgeTemplate is what each Purge a PurgeTrigger creates looks like.
type PurgeTemplate struct {
	// metadata holds labels and annotations copied onto each Purge, besides
	// those the trigger sets itself.
	// +optional
	Metadata PurgeTemplateMetadata `json:"metadata,omitempty"`

	// spec is the spec of each Purge, with every rule of a Purge's spec:
	// the CacheProxy to purge, mode, urls or tags, refetch, deadlineSeconds
	// and ttlSecondsAfterFinished (set it, or the Purges pile up: one per
	// rollout). Not podNames: a rollout replaces the pods, and their names.
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.podNames)",message="podNames is not allowed in a PurgeTrigger's template: each rollout replaces the pods, and their names"
	Spec PurgeSpec `json:"spec"`
}

// PurgeTemplateMetadata is the part of a Purge's metadata a template sets.
type PurgeTemplateMetadata struct {
	// labels are added to each Purge. At most 32.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to each Purge. At most 32.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PurgeTriggerSpec says which workload to follow and what to purge after
// each of its rollouts.
type PurgeTriggerSpec struct {
	// workloadRef names the Deployment, StatefulSet or Argo Rollout, in the
	// trigger's namespace, whose completed rollouts trigger a Purge.
	// +required
	WorkloadRef WorkloadReference `json:"workloadRef"`

	// purgeTemplate is the Purge created once per completed revision of the
	// workload, after every updated replica is available (as `kubectl
	// rollout status` decides it), never before. Changing it affects the
	// Purges of later revisions only.
	// +required
	PurgeTemplate PurgeTemplate `json:"purgeTemplate"`

	// historyLimit is how many of the Purges it created the trigger lists
	// in status.recentPurges, newest first. Default 5; between 1 and 20.
	// It does not delete Purges: their ttlSecondsAfterFinished does.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	HistoryLimit int32 `json:"historyLimit,omitempty"`
}

// TriggeredPurge is one Purge a trigger created and its result so far.
type TriggeredPurge struct {
	// name of the Purge.
	Name string `json:"name"`
	// revision of the workload whose rollout it followed.
	Revision string `json:"revision"`
	// creationTime is when the trigger created it.
	CreationTime metav1.Time `json:"creationTime"`
	// phase is the Purge's phase: Pending, Running, Complete or Failed.
	// Empty until its controller first reports, or once it is deleted.
	// +optional
	Phase PurgePhase `json:"phase,omitempty"`
	// progress is the Purge's "<done>/<target>" pods.
	// +optional
	Progress string `json:"progress,omitempty"`
	// objectsInvalidated sums the pods' invalidated counts.
	// +optional
	ObjectsInvalidated int64 `json:"objectsInvalidated,omitempty"`
	// completionTime is when the Purge became Complete or Failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// PurgeTriggerStatus is what the trigger saw of its workload and what it
// purged.
type PurgeTriggerStatus struct {
	// workloadUID identifies the workload the revisions below belong to:
	// a workload deleted and created again starts its revisions afresh.
	// +optional
	WorkloadUID string `json:"workloadUID,omitempty"`

	// observedRevision is the workload's revision when last looked at,
	// finished rolling out or not.
	// +optional
	ObservedRevision string `json:"observedRevision,omitempty"`

	// purgedRevision is the last revision a Purge was created for, or the
	// revision already rolled out when the trigger first saw the workload
	// (which it does not purge: nothing changed while it watched).
	// +optional
	PurgedRevision string `json:"purgedRevision,omitempty"`

	// lastPurgeTime is when the trigger last created a Purge.
	// +optional
	LastPurgeTime *metav1.Time `json:"lastPurgeTime,omitempty"`

	// recentPurges lists the last historyLimit Purges the trigger created,
	// newest first, with their results.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	RecentPurges []TriggeredPurge `json:"recentPurges,omitempty"`

	// observedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: RolloutComplete (False says why the current revision is
	// not purged yet: in progress, paused, past its progress deadline, or
	// no such workload) and Purged (True once the Purge of the current
	// revision completed; `kubectl wait --for=condition=Purged`).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// PurgeTrigger creates a Purge after each completed rollout of a workload:
// once per revision, only once every updated replica is available, so the
// cache is never refilled from old pods. It is the declarative form of
// "kubectl rollout status && kubectl purge".
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pgt,categories=cacheops
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="a PurgeTrigger's name is at most 63 characters: it is the value of the cache.cacheops.io/purge-trigger label on the Purges it creates"
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workloadRef.name`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.workloadRef.kind`,priority=1
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.purgeTemplate.spec.cacheProxyRef.name`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.observedRevision`
// +kubebuilder:printcolumn:name="Purged",type=string,JSONPath=`.status.purgedRevision`
// +kubebuilder:printcolumn:name="Rollout",type=string,JSONPath=`.status.conditions[?(@.type=="RolloutComplete")].reason`
// +kubebuilder:printcolumn:name="Last Purge",type=date,JSONPath=`.status.lastPurgeTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PurgeTrigger struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PurgeTriggerSpec `json:"spec"`
	// +optional
	Status PurgeTriggerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PurgeTriggerList is a list of PurgeTrigger.
type PurgeTriggerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PurgeTrigger `json:"items"`
}
