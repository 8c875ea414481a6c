// Package dashboard serves `kubectl purge dashboard`: a web app on the
// user's own machine that creates Purges through a wizard, previews them
// with a real dry-run Purge, and shows the history, each Purge's per-pod
// progress live, and the CacheProxy fleets.
//
// It adds no surface to the cluster. The server runs inside the plugin with
// the user's kubeconfig, so every request it makes to the API server is the
// user's own: RBAC, admission and the audit log judge it as they judge
// kubectl, and their refusals are shown word for word. Live views are
// API server watches relayed to the page as server-sent events.
//
// Because anything on the machine (any web page in the user's browser
// included) can reach a loopback port, the server trusts nothing by where
// a request comes from: it answers only requests whose Host is its own
// (DNS rebinding), refuses state-changing requests from another Origin,
// and requires on them a token made for this run, which the page reads
// from the HTML it was served (see guard.go).
//
// The page is plain HTML, CSS and JavaScript modules under web/, embedded
// in the binary with go:embed: no build step, no Node at build or run
// time, nothing fetched from elsewhere.
package dashboard
