// Package cli implements kubectl-purge, the kubectl plugin that creates
// Purge objects from the command line (`kubectl purge CACHEPROXY URL...`),
// follows them as each cache pod answers, and lists and shows them.
//
// The plugin talks to the API server only: it creates a real Purge, as
// `kubectl apply -f purge.yaml` would, so RBAC on purges, the audit log,
// status, events and GitOps history stay what they are. It checks locally
// what it can (conflicting modes, URL shapes, a host-root ban's
// confirmation) with messages that mean what the API's CEL rules mean, and
// passes the API server's own refusals through, field by field, since the
// API server is the judge.
//
// Main runs one command line and returns its exit status (see the Exit*
// constants); cmd/kubectl-purge is a thin main around it, and the tests
// call it in-process against envtest.
package cli
