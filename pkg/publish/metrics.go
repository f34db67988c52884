package publish

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics exports the publisher's counters, read from the same atomics as
// Stats at scrape time (so Enqueue pays for one counter, not two), plus
// the publish latency histogram and broker errors by code. A nil *metrics
// records nothing.
type metrics struct {
	latency      prometheus.Histogram
	brokerErrors *prometheus.CounterVec
}

type collector struct {
	p                                                     *Publisher
	enqueued, published, retried, spooled, replayed, drop *prometheus.Desc
	depth, capacity, spoolBytes, spoolRecords, spoolAge   *prometheus.Desc
	up                                                    *prometheus.Desc
}

func newMetrics(p *Publisher, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatewatch_publish_latency_seconds",
			Help:    "Time from Enqueue to Kafka's acknowledgement (acks=all), spool time included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600},
		}),
		brokerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatewatch_publish_broker_errors_total",
			Help: "Failed produce attempts by Kafka error code (or timeout, eof, network, other).",
		}, []string{"code"}),
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c := &collector{
		p:            p,
		enqueued:     d("gatewatch_publish_enqueued_total", "Events accepted by Enqueue."),
		published:    d("gatewatch_publish_published_total", "Events acknowledged by Kafka (acks=all), directly or from the spool."),
		retried:      d("gatewatch_publish_retried_total", "Events sent again after a failed produce attempt."),
		spooled:      d("gatewatch_publish_spooled_total", "Events written to the disk spool."),
		replayed:     d("gatewatch_publish_replayed_total", "Spooled events acknowledged by Kafka."),
		drop:         d("gatewatch_publish_dropped_total", "Events lost, by reason.", "reason"),
		depth:        d("gatewatch_publish_buffer_depth", "Events waiting in the in-memory buffer."),
		capacity:     d("gatewatch_publish_buffer_capacity", "Size of the in-memory buffer."),
		spoolBytes:   d("gatewatch_spool_bytes", "Bytes of spool segments on disk."),
		spoolRecords: d("gatewatch_spool_records", "Records in the spool not yet acknowledged by Kafka."),
		spoolAge:     d("gatewatch_spool_oldest_age_seconds", "Age of the oldest spooled record (0 when the spool is empty)."),
		up:           d("gatewatch_publish_broker_up", "1 while Kafka writes succeed, 0 after a failure until one succeeds."),
	}
	for _, col := range []prometheus.Collector{m.latency, m.brokerErrors, c} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("publish: Registerer: %w", err)
		}
	}
	return m, nil
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.enqueued, c.published, c.retried, c.spooled, c.replayed, c.drop,
		c.depth, c.capacity, c.spoolBytes, c.spoolRecords, c.spoolAge, c.up} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.enqueued, s.Enqueued)
	counter(c.published, s.Published)
	counter(c.retried, s.Retried)
	counter(c.spooled, s.Spooled)
	counter(c.replayed, s.Replayed)
	for _, r := range dropReasons { // every reason, so that rate() sees the first drop
		counter(c.drop, s.Dropped[r], r)
	}
	gauge(c.depth, float64(s.BufferDepth))
	gauge(c.capacity, float64(s.BufferCapacity))
	gauge(c.spoolBytes, float64(s.SpoolBytes))
	gauge(c.spoolRecords, float64(s.SpoolRecords))
	age := 0.0
	if !s.SpoolOldest.IsZero() {
		age = time.Since(s.SpoolOldest).Seconds()
	}
	gauge(c.spoolAge, age)
	up := 0.0
	if s.BrokerUp {
		up = 1
	}
	gauge(c.up, up)
}

func (m *metrics) observeLatency(batch []Message) {
	if m == nil {
		return
	}
	now := time.Now()
	for i := range batch {
		if !batch[i].Time.IsZero() {
			m.latency.Observe(now.Sub(batch[i].Time).Seconds())
		}
	}
}

func (m *metrics) brokerError(err error) {
	if m == nil {
		return
	}
	m.brokerErrors.WithLabelValues(errorCode(err)).Inc()
}
