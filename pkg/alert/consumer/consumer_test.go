package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

const countRules = `
rules:
  - name: per-ip
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 1h
    threshold: {count: 1000000}
    annotations: {summary: s, runbook_url: docs/runbooks/per-ip.md}
    actions: {annotate: true}
  - name: per-route
    match: {types: [auth.failure]}
    group_by: [kong.route.name]
    window: 1h
    threshold: {count: 1000000}
    annotations: {summary: s, runbook_url: docs/runbooks/per-route.md}
    actions: {annotate: true}
`

func start(t *testing.T, ctx context.Context, brokers []string, group string, rs *alert.RuleSet) (*Consumer, chan error) {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("GATEWATCH_TEST_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("group", group)
	}
	c, err := New(Config{Brokers: brokers, Group: group, FromStart: true, Tick: 50 * time.Millisecond, Log: log}, rs,
		func(p *kgo.Client) ([]notify.Receiver, error) {
			return BuildReceivers(rs, p, http.DefaultClient, time.Now)
		})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return c, done
}

func produce(t *testing.T, brokers []string, n int, at time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DisableIdempotentWrite())
	require.NoError(t, err)
	defer cl.Close()
	rs := make([]*kgo.Record, 0, n)
	for i := range n {
		ip := fmt.Sprintf("198.51.%d.%d", i%5, i%41)
		ev := event.Event{SchemaVersion: 1, ID: fmt.Sprint(i), Time: at.Add(time.Duration(i) * time.Millisecond),
			Type: event.AuthFailure, Severity: event.Low, Client: event.Client{IP: ip},
			Kong: event.Kong{Route: event.Ref{Name: fmt.Sprintf("route-%d", i%4)}}}
		rs = append(rs, &kgo.Record{Topic: "gatewatch.events", Key: []byte(ip), Value: ev.AppendJSON(nil)})
	}
	rs = append(rs, &kgo.Record{Topic: "gatewatch.events", Key: []byte("x"), Value: []byte("not an event")})
	require.NoError(t, cl.ProduceSync(context.Background(), rs...).FirstErr())
}

func values(c *Consumer, rule string) map[string]float64 {
	var v map[string]float64
	c.Engine(func(e *alert.Engine) { v = e.Values(rule) })
	return v
}

// Two instances in one group split the partitions. Because events are
// keyed by client IP, every IP's events reach exactly one instance, so the
// per-IP window values of the pair equal a single instance's exactly; for
// the per-route rule each instance holds a share, and the shares sum to the
// single instance's value (docs/alerting.md, "Keys other than the client IP").
func TestTwoInstancesSplittingPartitionsCountPerIPExactly(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	rs, err := alert.Parse("count.yaml", []byte(countRules))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a, doneA := start(t, ctx, brokers, "pair", rs)
	b, doneB := start(t, ctx, brokers, "pair", rs)
	require.Eventually(t, func() bool {
		return a.C.Assigned.Load() > 0 && b.C.Assigned.Load() > 0 && a.C.Assigned.Load()+b.C.Assigned.Load() == 3
	}, 20*time.Second, 20*time.Millisecond, "the pair never split the three partitions")

	const n = 3000
	produce(t, brokers, n, time.Now().UTC())
	require.Eventually(t, func() bool { return a.C.Events.Load()+b.C.Events.Load() == n }, 20*time.Second, 20*time.Millisecond)
	single, doneS := start(t, ctx, brokers, "single", rs)
	require.Eventually(t, func() bool { return single.C.Events.Load() == n }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, uint64(1), single.C.Invalid.Load(), "a record that is not an event is counted, not fatal")

	whole := values(single, "per-ip")
	require.Len(t, whole, 5*41)
	merged := map[string]float64{}
	for _, c := range []*Consumer{a, b} {
		v := values(c, "per-ip")
		assert.NotEmpty(t, v, "each instance owns some IPs")
		for ip, n := range v {
			_, dup := merged[ip]
			assert.False(t, dup, "IP %s counted by both instances", ip)
			merged[ip] = n
		}
	}
	assert.Equal(t, whole, merged, "per-IP counts of the pair equal the single instance's")

	routes := values(single, "per-route")
	sum := map[string]float64{}
	for _, c := range []*Consumer{a, b} {
		for r, v := range values(c, "per-route") {
			assert.LessOrEqual(t, v, routes[r])
			sum[r] += v
		}
	}
	assert.Equal(t, routes, sum, "per-route shares add up to the whole")

	require.Eventually(t, func() bool { return a.C.Committed.Load()+b.C.Committed.Load() == n+1 }, 10*time.Second, 20*time.Millisecond)
	cancel()
	var wg sync.WaitGroup
	for _, d := range []chan error{doneA, doneB, doneS} {
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, <-d) }()
	}
	wg.Wait()
}

func TestARestartResumesFromTheCommittedOffset(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	rs, err := alert.Parse("count.yaml", []byte(countRules))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	produce(t, brokers, 100, time.Now().UTC())
	first, done := start(t, ctx, brokers, "restart", rs)
	require.Eventually(t, func() bool { return first.C.Committed.Load() == 101 }, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	produce(t, brokers, 50, time.Now().UTC())
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	second, done2 := start(t, ctx2, brokers, "restart", rs)
	require.Eventually(t, func() bool { return second.C.Events.Load() == 50 }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, uint64(50), second.C.Events.Load(), "events before the commit are not evaluated again")
	cancel2()
	require.NoError(t, <-done2)
}

const restartRules = `
lateness: 5s
receivers:
  - name: hook
    type: webhook
    url: %s
  - name: alerts-topic
    type: kafka
rules:
  - name: brute
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 5s
    resolution: 500ms
    threshold: {count: 10}
    annotations: {summary: "{{ .Value }} failures", runbook_url: docs/runbooks/brute.md}
    actions: {notify: [hook, alerts-topic]}
`

type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Alerts []struct{ ID, Status string } `json:"alerts"`
	}
	_ = json.NewDecoder(r.Body).Decode(&p)
	h.mu.Lock()
	for _, a := range p.Alerts {
		h.got = append(h.got, a.Status)
	}
	h.mu.Unlock()
}

func (h *hookLog) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// A restart while an alert fires neither fires it again nor leaves it
// unresolved: the new instance restores it from the alerts topic, keeps it
// firing while the attack goes on, and resolves it when it stops.
func TestARestartNeitherRefiresNorForgetsAFiringAlert(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	hook := &hookLog{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	rs, err := alert.Parse("restart.yaml", []byte(fmt.Sprintf(restartRules, srv.URL)))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	first, done := start(t, ctx, brokers, "g", rs)
	produceIP(t, brokers, "203.0.113.9", 12, time.Now().UTC())
	require.Eventually(t, func() bool { return first.C.Committed.Load() == 12 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"firing"}, hook.statuses())
	cancel()
	require.NoError(t, <-done)

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	second, done2 := start(t, ctx2, brokers, "g", rs)
	require.Eventually(t, func() bool { return second.C.Restored.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	// The attack goes on after the restart and crosses the threshold again.
	t.Logf("%s: producing the second burst", time.Now().Format(time.StampMilli))
	produceIP(t, brokers, "203.0.113.9", 12, time.Now().UTC())
	t.Logf("%s: produced", time.Now().Format(time.StampMilli))
	require.Eventually(t, func() bool { return second.C.Events.Load() == 12 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	var late uint64
	var vals map[string]float64
	second.Engine(func(e *alert.Engine) { late, vals = e.Late(), e.Values("brute") })
	assert.Equal(t, []string{"firing"}, hook.statuses(), "the restored alert is not fired again (late %d, values %v)", late, vals)
	require.Eventually(t, func() bool { return len(hook.statuses()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"firing", "resolved"}, hook.statuses(), "and it resolves once the attack stops")
	cancel2()
	require.NoError(t, <-done2)
}

func produceIP(t *testing.T, brokers []string, ip string, n int, at time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DisableIdempotentWrite())
	require.NoError(t, err)
	defer cl.Close()
	var rs []*kgo.Record
	for i := range n {
		ev := event.Event{SchemaVersion: 1, ID: fmt.Sprint(i), Time: at.Add(time.Duration(i) * time.Millisecond),
			Type: event.AuthFailure, Severity: event.Low, Client: event.Client{IP: ip}}
		rs = append(rs, &kgo.Record{Topic: "gatewatch.events", Key: []byte(ip), Value: ev.AppendJSON(nil)})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), rs...).FirstErr())
}

// Offsets are committed only once the alerts their events produced are
// delivered: a consumer stopped while its only receiver is down leaves the
// burst uncommitted, and the next instance re-reads it and delivers.
func TestEventsWhoseAlertsAreUndeliveredAreNotCommitted(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	var mu sync.Mutex
	up := false
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p struct {
			Alerts []struct{ Status string } `json:"alerts"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		for _, a := range p.Alerts {
			got = append(got, a.Status)
		}
	}))
	defer srv.Close()
	rs, err := alert.Parse("down.yaml", []byte(fmt.Sprintf(`
receivers:
  - {name: hook, type: webhook, url: %q, retry_for: 1h}
rules:
  - name: brute
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 1h
    threshold: {count: 5}
    annotations: {summary: s, runbook_url: docs/runbooks/brute.md}
    actions: {notify: [hook]}
`, srv.URL)))
	require.NoError(t, err)
	run := func() (*Consumer, context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		c, err := New(Config{Brokers: brokers, Group: "down", FromStart: true, Tick: 50 * time.Millisecond, DrainTimeout: 300 * time.Millisecond}, rs,
			func(p *kgo.Client) ([]notify.Receiver, error) {
				return BuildReceivers(rs, p, http.DefaultClient, time.Now)
			})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		return c, cancel, done
	}
	first, cancel, done := run()
	// One produce call: one record batch, read by one poll, so the whole
	// burst is one pending batch.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DisableIdempotentWrite())
	require.NoError(t, err)
	var recs []*kgo.Record
	for i := range 6 {
		ev := event.Event{SchemaVersion: 1, ID: fmt.Sprint(i), Time: time.Now().UTC(), Type: event.AuthFailure, Severity: event.Low, Client: event.Client{IP: "203.0.113.50"}}
		recs = append(recs, &kgo.Record{Topic: "gatewatch.events", Key: []byte("203.0.113.50"), Value: ev.AppendJSON(nil)})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	cl.Close()
	require.Eventually(t, func() bool { return first.C.Alerts.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, first.C.Committed.Load(), "nothing is committed while the alert is undelivered")
	stopped := time.Now()
	cancel()
	require.NoError(t, <-done)
	assert.Less(t, time.Since(stopped), 2*time.Second, "a stuck receiver delays shutdown by the drain timeout only")
	assert.Zero(t, first.C.Committed.Load(), "nor at shutdown")

	mu.Lock()
	up = true
	mu.Unlock()
	second, cancel2, done2 := run()
	defer cancel2()
	require.Eventually(t, func() bool { return second.C.Committed.Load() == 6 }, 10*time.Second, 10*time.Millisecond,
		"the next instance re-reads the uncommitted burst, delivers its alert and commits")
	assert.Equal(t, uint64(6), second.C.Events.Load())
	mu.Lock()
	assert.Equal(t, []string{"firing"}, got)
	mu.Unlock()
	cancel2()
	require.NoError(t, <-done2)
}
