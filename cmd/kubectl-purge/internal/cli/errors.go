package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Exit statuses of kubectl-purge.
const (
	// ExitOK: the Purge was created (or printed, or validated), and with
	// --wait it completed; list and status succeeded.
	ExitOK = 0
	// ExitFailed: the Purge failed (some pod was given up), or the request
	// could not be made: no permission, cluster unreachable, API missing.
	ExitFailed = 1
	// ExitUsage: bad flags or arguments, or input the API server refused
	// (a validation message, an unknown CacheProxy, a name in use, an
	// unconfirmed host-root ban). Fix the command and run it again.
	ExitUsage = 2
	// ExitTimeout: --wait timed out. The Purge goes on in the cluster.
	ExitTimeout = 3
	// ExitInterrupted: interrupted (Ctrl-C) while waiting. The Purge goes
	// on in the cluster.
	ExitInterrupted = 130
)

// exitError is an error with the exit status it ends the command with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is an error the user fixes by changing the command line.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// withCode gives err an exit status.
func withCode(code int, err error) error {
	return &exitError{code: code, err: err}
}

// exitCode is the exit status err ends the command with.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitFailed
}

// Verbs and resources of the requests the plugin makes.
const (
	verbCreate = "create"
	verbGet    = "get"
	verbList   = "list"
	verbWatch  = "watch"

	resourcePurges       = "purges"
	resourceCacheProxies = "cacheproxies"
)

// request names an API request for messages: the verb, the resource and
// the namespace it was made in.
type request struct {
	verb      string // create, get, list, watch
	resource  string // purges, cacheproxies
	namespace string // empty: all namespaces
}

func (r request) String() string {
	where := "in any namespace"
	if r.namespace != "" {
		where = fmt.Sprintf("in namespace %q", r.namespace)
	}
	return fmt.Sprintf("%s %s.%s %s", r.verb, r.resource, group, where)
}

// group is the API group of both resources.
const group = "cache.cacheops.io"

// apiError explains a failed API request in words the user can act on,
// and gives it its exit status. The API server's own message is kept
// whole: it is the judge, and its words are the ones to search for.
func apiError(r request, err error) error {
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case meta.IsNoMatchError(err) || isResourceMissing(err):
		return withCode(ExitFailed, fmt.Errorf("the %s API is not installed in this cluster (no %s.%s resource): install the CRDs first (make install, or kubectl apply -k config/crd)",
			group, r.resource, group))
	case apierrors.IsForbidden(err):
		return withCode(ExitFailed, fmt.Errorf("permission denied: you may not %s\n  the API server said: %w\n  ask for a Role that grants %q on %q in API group %s, bound to you %s (config/rbac has purge-editor and purge-viewer roles)",
			r, err, r.verb, r.resource, group, where(r.namespace)))
	case apierrors.IsUnauthorized(err):
		return withCode(ExitFailed, fmt.Errorf("the API server did not accept your credentials (401 Unauthorized) for %s: check --kubeconfig, --context or your login: %w", r, err))
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return withCode(ExitUsage, fmt.Errorf("the API server refused to %s:\n%w", r, err))
	case errors.As(err, &status) && status.Status().Code != 0:
		return withCode(ExitFailed, fmt.Errorf("cannot %s: %w", r, err))
	default:
		return withCode(ExitFailed, fmt.Errorf("cannot %s (is the cluster reachable? check --kubeconfig and --context): %w", r, err))
	}
}

func where(namespace string) string {
	if namespace == "" {
		return "cluster-wide"
	}
	return fmt.Sprintf("in namespace %q", namespace)
}

// isResourceMissing reports the 404 an API server answers for a resource
// it does not serve (as opposed to an object that does not exist).
func isResourceMissing(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Name == ""
}

// invalidPurgeError explains the API server's refusal of a Purge, one line
// per field, pointing each URL back to where the user wrote it (argument
// or FILE:LINE) and showing the value, which the API's CEL messages do not.
func invalidPurgeError(err error, in *purgeInput) error {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) {
		return nil
	}
	details := status.Status().Details
	if details == nil || len(details.Causes) == 0 {
		return withCode(ExitUsage, fmt.Errorf("the API server refused the Purge: %s", stripInvalidPrefix(status.Status().Message)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the API server refused the Purge %q:", details.Name)
	for _, c := range details.Causes {
		b.WriteString("\n  ")
		b.WriteString(describeCause(c, in))
	}
	return withCode(ExitUsage, errors.New(b.String()))
}

// fieldIndex matches spec.urls[3].
var fieldIndex = regexp.MustCompile(`^spec\.urls\[(\d+)\]$`)

// describeCause renders one field error, pointing a URL back to where the
// user wrote it, which matters for a list read from a file:
// "spec.urls[3] (urls.txt:4 "https://..."): Too long: may not be more
// than 2048 bytes".
func describeCause(c metav1.StatusCause, in *purgeInput) string {
	msg := stripTypeValue(c.Message)
	if c.Field == "" {
		return msg
	}
	field := c.Field
	if m := fieldIndex.FindStringSubmatch(c.Field); m != nil {
		var i int
		_, _ = fmt.Sscan(m[1], &i)
		if i < len(in.URLs) {
			field = fmt.Sprintf("%s (%s %q)", c.Field, in.URLs[i].Source, abbreviate(in.URLs[i].URL))
		}
	}
	return field + ": " + msg
}

// typeValue is noise the API server puts before some messages: the type's
// name where a CEL rule on a whole object or string failed, and the null
// "value" of the note that some rules were not checked.
var typeValue = regexp.MustCompile(`^(<nil>: )?Invalid value: ("(string|object|array|integer|number|boolean)"|null): `)

// stripTypeValue drops that noise; the rest of the message stays exact.
func stripTypeValue(msg string) string {
	return typeValue.ReplaceAllString(msg, "")
}

// invalidPrefix is how the API server starts a refusal's message.
var invalidPrefix = regexp.MustCompile(`^Purge\.` + regexp.QuoteMeta(group) + ` "[^"]*" is invalid: `)

func stripInvalidPrefix(msg string) string {
	return invalidPrefix.ReplaceAllString(msg, "")
}

// abbreviate shortens a long value for a message.
func abbreviate(s string) string {
	const keep = 72
	if len(s) <= keep {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:keep], len(s))
}
