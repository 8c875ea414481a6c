// Package purge holds the Purge controller: it fans each Purge out to the
// admin API of every pod of its CacheProxy, retries failed pods with
// backoff until the Purge's deadline, and records each pod's result.
//
// A pass (controller.go: Reconcile) reads the Purge live, resolves its
// CacheProxy and pods, starts the calls that are due (fanout.go) through
// the call tracker (calls.go), which keeps calls running across passes,
// waits a little for them, and computes the whole status from what it saw
// (status.go; the summary and conditions come from
// controllers/purgestatus). The status is written once per pass, only when
// it changed.
//
// The pods are reached only through the admin client of cacheproxy/admin
// (podcaller.go), never the cache's internals; the pods' labels, admin
// port and token Secret are named in controllers/fleet.
package purge
