// Package purgestatus is the one definition of what a Purge's status says
// once its pods stand as they do: the totals, progress and phase
// (Summarize) and the TargetResolved, Complete and Failed conditions (one
// setter each).
//
// It is pure (no client, no clock: callers pass the time) and imports only
// the API and apimachinery, so every reader and writer of Purge status uses
// it rather than a copy: the Purge controller, the kubectl plugin's tests
// that play the operator, and the gateway and dashboard to come. Read-only
// questions about a status (is it finished?) are methods on the API type
// itself (cachev1alpha1.PurgeStatus.Finished).
package purgestatus
