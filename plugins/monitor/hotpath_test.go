package monitor

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// A benign entry is decoded and classified without allocating once the
// scratch is warm (issue 5); with metrics on, only a route's first entry
// allocates its series.
func TestABenignEntryCostsNoAllocation(t *testing.T) {
	raw := string(mustRead(t, "testdata/typical-2kb.json"))
	for _, withMetrics := range []bool{false, true} {
		rt := &Runtime{Publisher: &fakePublisher{}, IDs: event.NewIDGen(), Topic: "t"}
		if withMetrics {
			rt.Metrics = NewMetrics(prometheus.NewRegistry())
		}
		c := New(rt)().(*Config)
		c.APIKeyNames = []string{"apikey"}
		sc := new(scratch) // not from the pool, which drops entries at random under -race
		c.processWith(sc, raw, fakeKong{})
		require.Empty(t, rt.Publisher.(*fakePublisher).all(), "the typical entry is benign")
		allocs := testing.AllocsPerRun(100, func() { c.processWith(sc, raw, fakeKong{}) })
		assert.Zero(t, allocs, "metrics: %v", withMetrics)
	}
}

// Route and service names live in the entry's reused buffers when they
// were escaped; the metrics keep them (map key, label values) as copies, so
// the next entry cannot change a series' labels.
func TestMetricsKeepTheirOwnCopyOfRouteNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	rt := &Runtime{Publisher: &fakePublisher{}, IDs: event.NewIDGen(), Topic: "t", Metrics: NewMetrics(reg)}
	c := New(rt)().(*Config)
	sc := new(scratch)
	doc := func(route string) string {
		return `{"request":{"uri":"\/x","method":"GET"},"response":{"status":200},"latencies":{"kong":1,"proxy":1,"request":2},` +
			`"route":{"id":"r","name":"` + route + `"},"service":{"id":"s","name":"\u0073hop"},"source":"upstream"}`
	}
	c.processWith(sc, doc(`\u006frders`), fakeKong{}) // "orders"
	c.processWith(sc, doc(`\u0070ayers`), fakeKong{}) // "payers", over the same bytes
	c.processWith(sc, doc(`\u006frders`), fakeKong{})

	counts := map[string]float64{}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "gatewatch_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := []string{}
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			if v := m.GetCounter().GetValue(); v > 0 { // every status class has a series
				counts[strings.Join(labels, ",")] += v
			}
		}
	}
	assert.Equal(t, map[string]float64{
		"route=orders,service=shop,status_class=2xx": 2,
		"route=payers,service=shop,status_class=2xx": 1,
	}, counts)
}
