package purge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Purge controller's Prometheus metrics. They are
// registered once, by the manager's main, on controller-runtime's
// registry, so they are served on the manager's /metrics.
type Metrics struct {
	// Duration observes, per finished Purge, the time from its creation
	// to Complete or Failed. Creation times have one-second resolution.
	Duration *prometheus.HistogramVec
	// PodCallDuration observes each admin API call, by result.
	PodCallDuration *prometheus.HistogramVec
	// PodCallFailures counts failed admin API calls, by reason.
	PodCallFailures *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "purge_operator_purge_duration_seconds",
			Help:    "Time from a Purge's creation to Complete or Failed, by result.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 120, 300, 900},
		}, []string{"result"}),
		PodCallDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "purge_operator_pod_call_duration_seconds",
			Help:    "Latency of admin API calls to cacheproxy pods, by result (success or failure).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		PodCallFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purge_operator_pod_call_failures_total",
			Help: "Failed admin API calls to cacheproxy pods, by reason (timeout, network, unauthorized, refused, server_error).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.Duration, m.PodCallDuration, m.PodCallFailures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
