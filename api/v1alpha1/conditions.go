package v1alpha1

// Condition types. Each is set by exactly one function in the controllers.
const (
	// CacheProxyConditionAvailable is True when the fleet's Deployment is available
	// (enough pods ready to serve traffic).
	CacheProxyConditionAvailable = "Available"

	// PurgeConditionTargetResolved is True once the referenced CacheProxy was found
	// and the target pods were chosen. False with reason CacheProxyNotFound
	// while it does not exist; the Purge starts when it appears.
	PurgeConditionTargetResolved = "TargetResolved"
	// PurgeConditionComplete is True when every target pod succeeded or is gone.
	// `kubectl wait --for=condition=Complete` waits for it.
	PurgeConditionComplete = "Complete"
	// PurgeConditionFailed is True when some target pod was given up; the message
	// names the pods.
	PurgeConditionFailed = "Failed"
)

// Event reasons of a Purge's transitions that no condition reason names. A
// Purge that fails emits a Warning event whose reason is its Failed
// condition's (DeadlineExceeded or PodsRefused).
const (
	// ReasonStarted: the target pods were chosen and are being called.
	ReasonStarted = "Started"
	// ReasonCompleted: every target pod succeeded or is gone.
	ReasonCompleted = "Completed"
)

// Condition reasons, also used as the reasons of the matching events.
const (
	// ReasonDeploymentAvailable: the Deployment reports minimum availability.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentUnavailable: too few pods are ready.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	// ReasonDeploymentPending: the Deployment has not reported status yet.
	ReasonDeploymentPending = "DeploymentPending"

	// ReasonCacheProxyNotFound: the referenced CacheProxy does not exist.
	ReasonCacheProxyNotFound = "CacheProxyNotFound"
	// ReasonTargetsChosen: the target pods were recorded in status.
	ReasonTargetsChosen = "TargetsChosen"
	// ReasonInProgress: some target pods have not answered yet.
	ReasonInProgress = "InProgress"
	// ReasonAllPodsDone: every target pod succeeded or is gone.
	ReasonAllPodsDone = "AllPodsDone"
	// ReasonNoTargetPods: the CacheProxy had no pod with an IP at start,
	// so no cache held anything to purge.
	ReasonNoTargetPods = "NoTargetPods"
	// ReasonDeadlineExceeded: deadlineSeconds passed with pods unanswered.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonPodsRefused: some pod refused the call in a way retrying cannot
	// fix (a wrong token, a request it rejects).
	ReasonPodsRefused = "PodsRefused"
)

// PurgeTrigger condition types.
const (
	// PurgeTriggerConditionRolloutComplete is True when the workload's current
	// revision finished rolling out, as `kubectl rollout status` decides it.
	// False says why not: RolloutInProgress, RolloutPaused,
	// ProgressDeadlineExceeded, RolloutStatusUnavailable, WorkloadNotFound
	// or WorkloadKindNotInstalled.
	PurgeTriggerConditionRolloutComplete = "RolloutComplete"
	// PurgeTriggerConditionPurged is True when the Purge of the workload's
	// current revision completed (or that revision predates the trigger).
	// False while the rollout or the Purge is under way, or if it failed.
	PurgeTriggerConditionPurged = "Purged"
)

// PurgeTrigger condition reasons, also the reasons of its events.
const (
	// ReasonRolloutComplete: every updated replica is available.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonRolloutInProgress: replicas are still being updated or becoming
	// available (a readiness probe failing keeps it here until the progress
	// deadline); the message is what `kubectl rollout status` would print.
	ReasonRolloutInProgress = "RolloutInProgress"
	// ReasonRolloutPaused: the rollout is paused (spec.paused, or an Argo
	// Rollout's pause step) before it completed; nothing is purged until it
	// resumes and completes.
	ReasonRolloutPaused = "RolloutPaused"
	// ReasonProgressDeadlineExceeded: the rollout failed, its
	// progressDeadlineSeconds passed (Argo: Degraded); nothing is purged.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonRolloutStatusUnavailable: the workload's rollouts cannot be
	// followed, such as a StatefulSet with the OnDelete strategy.
	ReasonRolloutStatusUnavailable = "RolloutStatusUnavailable"
	// ReasonWorkloadNotFound: the workload does not exist (yet).
	ReasonWorkloadNotFound = "WorkloadNotFound"
	// ReasonWorkloadKindNotInstalled: the workload's kind is not served by
	// the cluster (Argo Rollouts not installed when the operator started).
	ReasonWorkloadKindNotInstalled = "WorkloadKindNotInstalled"

	// ReasonPurgeCreated: the trigger created the Purge of a revision.
	ReasonPurgeCreated = "PurgeCreated"
	// ReasonPurgeRunning: the Purge of the current revision has not ended.
	ReasonPurgeRunning = "PurgeRunning"
	// ReasonPurgeComplete: the Purge of the current revision completed.
	ReasonPurgeComplete = "PurgeComplete"
	// ReasonPurgeFailed: the Purge of the current revision failed.
	ReasonPurgeFailed = "PurgeFailed"
	// ReasonRevisionPredatesTrigger: the current revision was already
	// rolled out when the trigger first saw the workload; it is not purged.
	ReasonRevisionPredatesTrigger = "RevisionPredatesTrigger"
	// ReasonWaitingForRollout: the current revision has not finished
	// rolling out, so it is not purged yet.
	ReasonWaitingForRollout = "WaitingForRollout"
)
