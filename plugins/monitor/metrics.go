package monitor

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
)

// Metrics are the monitor's Prometheus series, computed from the log
// entries it already decodes. Labels are bounded: route and service names
// (operator-defined), status class, event type and severity; never client
// IPs or paths. A nil *Metrics records nothing.
type Metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	events       *prometheus.CounterVec
	handler      prometheus.Histogram
	decodeErrors prometheus.Counter
	pdkErrors    prometheus.Counter
	dropped      prometheus.Counter

	// Resolved series per route, so the hot path does one map lookup
	// instead of hashing label values four times.
	mu     sync.RWMutex
	routes map[routeKey]*routeSeries
}

type routeKey struct{ route, service string }

type routeSeries struct {
	status                [len(statusClasses)]prometheus.Counter
	other                 prometheus.Counter // statuses outside 100–599
	kong, upstream, total prometheus.Observer
}

func (m *Metrics) series(route, service string) *routeSeries {
	k := routeKey{route, service}
	m.mu.RLock()
	rs := m.routes[k]
	m.mu.RUnlock()
	if rs != nil {
		return rs
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rs = m.routes[k]; rs != nil {
		return rs
	}
	// The names point into the decoded entry's buffers, which the next
	// entry overwrites; the map key and the label values outlive the call.
	route, service = strings.Clone(route), strings.Clone(service)
	k = routeKey{route, service}
	rs = &routeSeries{
		other:    m.requests.WithLabelValues(route, service, "other"),
		kong:     m.latency.WithLabelValues(route, "kong"),
		upstream: m.latency.WithLabelValues(route, "upstream"),
		total:    m.latency.WithLabelValues(route, "total"),
	}
	for i, c := range statusClasses {
		rs.status[i] = m.requests.WithLabelValues(route, service, c)
	}
	m.routes[k] = rs
	return rs
}

// NewMetrics registers the monitor's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_requests_total",
			Help: "Requests seen in Kong's log phase, by route, service and status class.",
		}, []string{"route", "service", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatewatch_request_latency_seconds",
			Help:    "Kong latencies by stage (kong, upstream, total) and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "stage"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_events_total",
			Help: "Security events produced, by type and severity.",
		}, []string{"type", "severity"}),
		handler: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatewatch_log_handler_seconds",
			Help:    "Go-side time spent per log entry (decode, classify, detect, enqueue).",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_entry_decode_errors_total",
			Help: "Serialized log entries that could not be decoded.",
		}),
		pdkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_pdk_errors_total",
			Help: "PDK calls from the log handler that failed.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatewatch_events_not_enqueued_total",
			Help: "Events the publisher refused at enqueue (buffer and spool full).",
		}),
	}
	m.routes = map[routeKey]*routeSeries{}
	reg.MustRegister(m.requests, m.latency, m.events, m.handler, m.decodeErrors, m.pdkErrors, m.dropped)
	return m
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *Metrics) observe(e *kongentry.Entry, evs []event.Event, took time.Duration) {
	if m == nil {
		return
	}
	route, service := "", ""
	if e.Route.Present {
		route = e.Route.Name
	}
	if e.Service.Present {
		service = e.Service.Name
	}
	rs := m.series(route, service)
	if s := e.Response.Status; s >= 100 && s < 600 {
		rs.status[s/100-1].Inc()
	} else {
		rs.other.Inc()
	}
	rs.kong.Observe(e.Latencies.Kong / 1000)
	if e.Latencies.Proxy >= 0 {
		rs.upstream.Observe(e.Latencies.Proxy / 1000)
	}
	rs.total.Observe(e.Latencies.Request / 1000)
	for i := range evs {
		m.events.WithLabelValues(string(evs[i].Type), string(evs[i].Severity)).Inc()
	}
	m.handler.Observe(took.Seconds())
}

func (m *Metrics) decodeError() {
	if m != nil {
		m.decodeErrors.Inc()
	}
}

func (m *Metrics) pdkError() {
	if m != nil {
		m.pdkErrors.Inc()
	}
}

func (m *Metrics) enqueueDropped() {
	if m != nil {
		m.dropped.Inc()
	}
}
