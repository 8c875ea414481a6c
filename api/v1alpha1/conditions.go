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
