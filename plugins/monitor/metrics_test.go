package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
)

func seriesCount(t testing.TB, reg *prometheus.Registry) map[string]int {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]int{}
	for _, mf := range mfs {
		out[mf.GetName()] = len(mf.GetMetric())
	}
	return out
}

// Labels are route and service names, status class, stage, event type and
// severity — never client IPs or paths — so 10 000 distinct clients and
// paths add no series.
func TestMetricLabelCardinalityIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	statuses := []int{200, 201, 301, 401, 403, 404, 429, 500, 502}
	for i := 0; i < 10000; i++ {
		var e kongentry.Entry
		require.NoError(t, kongentry.DecodeString(fmt.Sprintf(
			`{"request":{"uri":"/items/%d?q=%d","method":"GET","headers":{"x-forwarded-for":"10.%d.%d.%d"}},`+
				`"response":{"status":%d},"latencies":{"kong":1,"proxy":2,"request":3},`+
				`"route":{"id":"r","name":"orders"},"service":{"id":"s","name":"shop"},"client_ip":"198.18.%d.%d"}`,
			i, i, i%250, i/250%250, i%7, statuses[i%len(statuses)], i/256%256, i%256), &e))
		evs := []event.Event{{Type: event.AuthFailure, Severity: event.Low}}
		m.observe(&e, evs, time.Microsecond)
	}
	got := seriesCount(t, reg)
	assert.Equal(t, len(statusClasses)+1, got["gatewatch_requests_total"], "one series per status class (and one for out-of-range statuses) on the one route")
	assert.Equal(t, 3, got["gatewatch_request_latency_seconds"], "kong, upstream, total")
	assert.Equal(t, 1, got["gatewatch_events_total"])
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				assert.NotContains(t, lp.GetValue(), "198.18.", "%s carries a client IP", mf.GetName())
				assert.NotContains(t, lp.GetValue(), "/items/", "%s carries a path", mf.GetName())
			}
		}
	}
}

// BenchmarkMetricsObserve is what metrics add per log entry (target
// ≤ 1 µs).
func BenchmarkMetricsObserve(b *testing.B) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var e kongentry.Entry
	require.NoError(b, kongentry.DecodeString(string(mustRead(b, "testdata/typical-2kb.json")), &e))
	b.ReportAllocs()
	for b.Loop() {
		m.observe(&e, nil, time.Microsecond)
	}
}
