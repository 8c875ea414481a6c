// Package controllers wires the purge-operator's reconcilers into a
// manager: Setup registers them, CacheOptions scopes the manager's caches
// to the objects the operator made. cmd/manager and the envtest suites use
// both, so the tests run the controllers as production does.
//
// Each controller has its own package: cacheproxy (the fleet's
// Deployment, Service and admin-token Secret), purge (the fan-out of a
// Purge to every pod) and purgetrigger (a Purge after each completed
// rollout of a workload). What both rely on lives beside them: fleet (the
// names of a fleet's objects) and purgestatus (what a Purge's status says,
// also used by the kubectl plugin).
package controllers
