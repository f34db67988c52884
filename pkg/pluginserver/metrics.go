package pluginserver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exports Stats as counters read at scrape time, so the
// server's hot path only touches atomics.
func registerMetrics(reg prometheus.Registerer, plugin string, st *Stats) error {
	labels := prometheus.Labels{"plugin": plugin}
	counters := []struct {
		name, help string
		read       func() uint64
	}{
		{"gatewatch_plugin_panics_total", "Handler panics recovered by the plugin server (the request went on).", st.Panics.Load},
		{"gatewatch_plugin_events_total", "Phase events handed to a handler.", st.Events.Load},
		{"gatewatch_plugin_instances_started_total", "Plugin instances started by Kong.", st.InstancesStarted.Load},
		{"gatewatch_plugin_instances_closed_total", "Plugin instances closed by Kong.", st.InstancesClosed.Load},
		{"gatewatch_plugin_refused_calls_total", "Calls answered by closing the connection (unknown instance or phase, bad config, bad frame).", st.Refused.Load},
	}
	for _, c := range counters {
		read := c.read
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: c.name, Help: c.help, ConstLabels: labels,
		}, func() float64 { return float64(read()) }))
		if err != nil {
			return fmt.Errorf("pluginserver: registering %s: %w", c.name, err)
		}
	}
	return nil
}
