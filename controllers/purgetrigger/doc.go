// Package purgetrigger holds the PurgeTrigger controller: it follows a
// workload (a Deployment, a StatefulSet or an Argo Rollout) and creates one
// Purge from the trigger's template each time a new revision of the
// workload has finished rolling out.
//
// "Finished" is what `kubectl rollout status` decides (rollout.go restates
// its rules and rollout_test.go checks them against kubectl's own code), so
// the cache is purged only once every updated replica is available: a purge
// any earlier would let the old pods fill the cache again.
//
// Each revision is purged exactly once, across restarts and leader changes,
// without any state outside the API server: the Purge's name is derived
// from the trigger, the revision and the workload's UID, so a second
// attempt at the same revision gets AlreadyExists and adopts the first.
//
// The workloads are watched through a cache of their metadata only, of its
// own, so the manager does not hold every Deployment of the cluster in
// memory and its own label-filtered caches stay as they are; each pass
// reads the one workload it needs from the API server.
package purgetrigger
