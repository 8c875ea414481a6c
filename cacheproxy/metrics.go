package cacheproxy

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// outcome is what a client request came to: the "cache" label of
// cacheproxy_requests_total. hit (fresh stored copy), stale (stale copy
// served while revalidating, on origin error or after a soft purge),
// revalidated (stored copy served after a 304), miss (fetched from the
// origin, stored or not), collapsed (answered by another client's fetch),
// pass (not cacheable: unsafe method, upgrade, range miss), error (origin
// unreachable: 502/504), refused (host not served, PURGE/BAN).
type outcome int

const (
	outcomeHit outcome = iota
	outcomeStale
	outcomeRevalidated
	outcomeMiss
	outcomeCollapsed
	outcomePass
	outcomeError
	outcomeRefused
	numOutcomes
)

// unknownName is what the String method of the package's enums returns
// for a value it does not know.
const unknownName = "unknown"

var outcomeNames = [numOutcomes]string{"hit", "stale", "revalidated", "miss", "collapsed", "pass", "error", "refused"}

func (o outcome) String() string {
	if o < 0 || o >= numOutcomes {
		return unknownName
	}
	return outcomeNames[o]
}

// metrics counts what the proxy does. Counters on the request path are
// plain atomics, exported to Prometheus through CounterFuncs, so a hit costs
// one atomic add; the registry is the Proxy's own (no global state).
type metrics struct {
	registry *prometheus.Registry

	requests       [numOutcomes]atomic.Int64
	originRequests atomic.Int64

	originByCode       *prometheus.CounterVec
	originLatency      prometheus.Histogram
	invalidations      *prometheus.CounterVec
	invalidatedObjects *prometheus.CounterVec
	refetches          *prometheus.CounterVec
}

func (m *metrics) count(o outcome) { m.requests[o].Add(1) }

// newMetrics builds the registry for p.
func newMetrics(p *Proxy) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	reg := m.registry
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for o := range numOutcomes {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "cacheproxy_requests_total",
			Help:        "Client requests by cache outcome: hit, stale, revalidated, miss, collapsed, pass, error, refused.",
			ConstLabels: prometheus.Labels{"cache": o.String()},
		}, func() float64 { return float64(m.requests[o].Load()) }))
	}
	m.originByCode = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cacheproxy_origin_requests_total",
		Help: "Requests sent to the origin, by status code class (2xx..5xx) or \"error\" when no response came.",
	}, []string{"code"})
	m.originLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cacheproxy_origin_request_duration_seconds",
		Help:    "Time from sending a request to the origin until its response headers arrived.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	})
	m.invalidations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cacheproxy_invalidations_total",
		Help: "Invalidation requests acted on (retries of a known id and dry runs excluded), by mode.",
	}, []string{"mode"})
	m.invalidatedObjects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cacheproxy_invalidated_objects_total",
		Help: "Objects removed or marked stale by invalidations, by mode (ban: counted when registered).",
	}, []string{"mode"})
	m.refetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cacheproxy_refetches_total",
		Help: "Refetches after invalidations, by result (stored, failed).",
	}, []string{"result"})
	for _, mode := range admin.Modes {
		m.invalidations.WithLabelValues(string(mode))
		m.invalidatedObjects.WithLabelValues(string(mode))
	}
	reg.MustRegister(m.originByCode, m.originLatency, m.invalidations, m.invalidatedObjects, m.refetches)
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("cacheproxy_objects", "Stored objects, Vary variants counted apart.", func() float64 { return float64(p.store.objects.Load()) })
	gauge("cacheproxy_bytes", "Memory charged to stored objects, in bytes.", func() float64 { return float64(p.store.used.Load()) })
	gauge("cacheproxy_max_bytes", "Configured bound on cacheproxy_bytes (--cache-size).", func() float64 { return float64(p.store.maxBytes) })
	gauge("cacheproxy_active_bans", "Bans still checked against stored objects.", func() float64 { return float64(p.bans.active.Load()) })
	counter("cacheproxy_evictions_total", "Objects evicted to stay under --cache-size.", func() float64 { return float64(p.store.evictions.Load()) })
	counter("cacheproxy_stale_served_total", "Responses served from a stale copy (stale-while-revalidate, stale-if-error, soft purge).", func() float64 { return float64(m.requests[outcomeStale].Load()) })
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// stats returns the cache's counters, as GET /v1/stats answers them.
func (p *Proxy) stats() admin.Stats {
	m := p.metrics
	return admin.Stats{
		Objects:        p.store.objects.Load(),
		Bytes:          p.store.used.Load(),
		MaxBytes:       p.store.maxBytes,
		Evictions:      p.store.evictions.Load(),
		ActiveBans:     p.bans.active.Load(),
		Hits:           m.requests[outcomeHit].Load(),
		Misses:         m.requests[outcomeMiss].Load(),
		StaleServed:    m.requests[outcomeStale].Load(),
		OriginRequests: m.originRequests.Load(),
	}
}

// statusClass is the label of a status code's class: "2xx" for 204.
func statusClass(code int) string {
	if classes := [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}; code >= 100 && code < 600 {
		return classes[code/100-1]
	}
	return strconv.Itoa(code/100) + "xx"
}

// instrumentedTransport counts and times origin requests.
type instrumentedTransport struct {
	next http.RoundTripper
	m    *metrics
}

func (t *instrumentedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := t.begin()
	resp, err := t.next.RoundTrip(r)
	t.end(start, resp, err)
	return resp, err
}

// begin counts an origin request about to be sent, and returns when.
func (t *instrumentedTransport) begin() time.Time {
	t.m.originRequests.Add(1)
	return time.Now() // latency is measured on the wall clock, not the injected one
}

// end records how an origin request that began at start ended.
func (t *instrumentedTransport) end(start time.Time, resp *http.Response, err error) {
	t.m.originLatency.Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = statusClass(resp.StatusCode)
	}
	t.m.originByCode.WithLabelValues(code).Inc()
}
