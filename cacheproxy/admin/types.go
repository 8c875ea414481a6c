package admin

// Paths served on the admin port.
const (
	// InvalidationsPath accepts POSTed InvalidationRequests.
	InvalidationsPath = "/v1/invalidations"
	// StatsPath answers GET with Stats.
	StatsPath = "/v1/stats"
	// HealthzPath answers 200 while the process runs (liveness); no token.
	HealthzPath = "/healthz"
	// ReadyzPath answers 200 once the proxy serves traffic and 503 while it
	// starts or drains (readiness); no token.
	ReadyzPath = "/readyz"
	// MetricsPath serves Prometheus metrics; no token.
	MetricsPath = "/metrics"
)

// DefaultPort is the admin port when none is configured.
const DefaultPort = 9090

// Mode says how an invalidation treats the objects it matches.
type Mode string

const (
	// ModeSimple removes the matched objects (every Vary variant); the next
	// request for them goes to the origin. Like a CDN's PURGE.
	ModeSimple Mode = "simple"
	// ModeSoft marks the matched objects stale but keeps them: the next
	// request is answered with the stale copy while one background request
	// refreshes it, and if the origin fails the stale copy is served instead
	// of the error. Like a CDN's soft purge.
	ModeSoft Mode = "soft"
	// ModeBan invalidates every object whose URL matches a pattern: a URL
	// prefix in which "*" matches any run of characters; the scheme is
	// required but does not matter. Like Varnish's BAN.
	ModeBan Mode = "ban"
)

// Modes lists every Mode, in documentation order.
var Modes = []Mode{ModeSimple, ModeSoft, ModeBan}

// Limits of one InvalidationRequest. They are at least the CRD's bounds on
// a Purge (which allows 256 URLs and 256 tags, of the same lengths), so
// whatever the API server accepts the proxy accepts too; direct callers of
// the admin API may send more.
const (
	// MaxIDLength bounds InvalidationRequest.ID.
	MaxIDLength = 256
	// MaxURLs bounds len(InvalidationRequest.URLs).
	MaxURLs = 1000
	// MaxURLLength bounds each URL or ban pattern, in characters
	// (Unicode code points), which is how the CRD's maxLength counts.
	MaxURLLength = 2048
	// MaxTags bounds len(InvalidationRequest.Tags).
	MaxTags = 1000
	// MaxTagLength bounds each tag, in characters, as the CRD counts.
	MaxTagLength = 256
	// MaxWildcardHostPatterns bounds the ban patterns of one request that
	// have a "*" in the host or port: counting their matches is a pass
	// over every stored key (red team C11: 1000 of them took 32.7 s over
	// 144.6k objects). The CRD's rule on a Purge allows the same number
	// (urlrules_test.go checks both).
	MaxWildcardHostPatterns = 16
	// MaxBodyBytes bounds the encoded request; larger bodies get 413.
	MaxBodyBytes = 4 << 20
)

// InvalidationRequest is the body of POST /v1/invalidations.
type InvalidationRequest struct {
	// ID identifies the invalidation; the operator sends "<purge uid>/<generation>".
	// The first receipt of an ID fixes the time T the invalidation applies to:
	// it affects only objects stored before T, and a repeated ID returns the
	// first result without acting again. Required.
	ID string `json:"id"`
	// Mode is simple, soft or ban. Required.
	Mode Mode `json:"mode"`
	// URLs are absolute http(s) URLs (simple, soft) or ban patterns (ban).
	URLs []string `json:"urls,omitempty"`
	// Tags name surrogate keys (simple, soft only).
	Tags []string `json:"tags,omitempty"`
	// Refetch asks the proxy to fetch each invalidated URL from the origin
	// and store the fresh copy (simple, soft only).
	Refetch bool `json:"refetch,omitempty"`
	// DryRun counts what would match and changes nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// InvalidationResult is the 200 answer to POST /v1/invalidations.
type InvalidationResult struct {
	// ID echoes the request's ID.
	ID string `json:"id"`
	// Matched counts the stored objects (Vary variants included) the
	// request matched. For a ban it is counted when the ban is registered.
	Matched int64 `json:"matched"`
	// Invalidated counts the objects removed (simple, ban) or marked stale
	// (soft). Zero on a dry run.
	Invalidated int64 `json:"invalidated"`
	// Refetched counts the URLs fetched again and stored.
	Refetched int64 `json:"refetched"`
	// Errors lists what went wrong for single URLs (a refetch the origin
	// refused, say); the invalidation itself still happened.
	Errors []string `json:"errors"`
	// DurationMillis is how long the proxy took to act, in milliseconds.
	DurationMillis int64 `json:"durationMillis"`
}

// ErrorResponse is the body of every non-200 admin answer.
type ErrorResponse struct {
	// Error says what was wrong, for a person to read.
	Error string `json:"error"`
}

// Stats is the answer to GET /v1/stats.
type Stats struct {
	// Objects is the number of stored objects, Vary variants counted apart.
	Objects int64 `json:"objects"`
	// Bytes is the memory charged to stored objects.
	Bytes int64 `json:"bytes"`
	// MaxBytes is the configured bound on Bytes.
	MaxBytes int64 `json:"maxBytes"`
	// Evictions counts objects evicted to stay under MaxBytes.
	Evictions int64 `json:"evictions"`
	// ActiveBans is the number of bans still being checked against objects.
	ActiveBans int64 `json:"activeBans"`
	// Hits, Misses and StaleServed count client responses by cache outcome.
	Hits        int64 `json:"hits"`
	Misses      int64 `json:"misses"`
	StaleServed int64 `json:"staleServed"`
	// OriginRequests counts requests sent to the origin.
	OriginRequests int64 `json:"originRequests"`
}
