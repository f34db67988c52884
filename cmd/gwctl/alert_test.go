package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/internal/testalertmanager"
	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/alert/consumer"
	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs the real Alertmanager on 127.0.0.1 and returns
// its base URL.
func startAlertmanager(t testing.TB) string { return testalertmanager.Start(t) }

type amAlert = testalertmanager.Alert

func amAlerts(t testing.TB, url string) []amAlert { return testalertmanager.Alerts(t, url) }

func amHas(t testing.TB, url, ip string) bool {
	for _, a := range amAlerts(t, url) {
		if a.Labels["client_ip"] == ip {
			return true
		}
	}
	return false
}

func mustWrite(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// recorder is a webhook receiver that keeps every body it accepts; it
// answers 503 to its first failFirst requests.
type recorder struct {
	mu        sync.Mutex
	failFirst int
	refused   int
	bodies    [][]byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refused < r.failFirst {
		r.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.bodies = append(r.bodies, b)
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.bodies {
		var p struct {
			Alerts []struct{ Status string } `json:"alerts"`
		}
		_ = json.Unmarshal(b, &p)
		for _, a := range p.Alerts {
			out = append(out, a.Status)
		}
	}
	return out
}

func produceAuthFailures(t testing.TB, brokers []string, ip string, n int, at time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := range n {
		ev := event.Event{
			SchemaVersion: 1, ID: fmt.Sprintf("0190c0de-0000-7000-8000-%012d", i), Time: at.Add(time.Duration(i) * time.Millisecond),
			Type: event.AuthFailure, Severity: event.Low,
			Kong:     event.Kong{NodeID: "node-1", Route: event.Ref{Name: "login"}},
			Client:   event.Client{IP: ip},
			Request:  event.Request{Method: "POST", Path: "/login"},
			Response: event.Response{Status: 401, Source: "kong"},
			Detail:   event.Detail{Mechanism: "basic-auth", Reason: "invalid_credentials"},
		}
		rs = append(rs, &kgo.Record{Topic: "gatewatch.events", Key: []byte(ip), Value: ev.AppendJSON(nil)})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

const e2eRules = `
lateness: 5s
receivers:
  - name: am
    type: alertmanager
    url: %s
    resend: 30s # a firing alert's endsAt is 2m ahead: only a resolution removes it sooner
  - name: hook
    type: webhook
    url: %s
  - name: alerts-topic
    type: kafka
rules:
  - name: auth-brute-force
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 2s
    resolution: 250ms
    threshold: {count: 20}
    severity: high
    labels: {team: security}
    annotations:
      summary: "{{ .Value }} failed logins from {{ .Labels.client_ip }}"
      runbook_url: docs/runbooks/auth-brute-force.md
    actions:
      notify: [am, hook]
      block: {ttl: 10m}
      annotate: true
`

func TestABruteForceBurstReachesAlertmanagerBlocksAndResolves(t *testing.T) {
	cluster := testkafka.Start(t)
	brokers := cluster.ListenAddrs()
	amURL := startAlertmanager(t)
	// The webhook is down for its first three requests: it is retried, and
	// Alertmanager and the blocklist do not wait for it.
	hook := &recorder{failFirst: 3}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(fmt.Sprintf(e2eRules, amURL, hs.URL)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	ready := make(chan *consumer.Consumer, 1)
	go func() {
		done <- runAlertWith(ctx, []string{"-rules", rules, "-brokers", strings.Join(brokers, ","), "-group", "e2e", "-from-start", "-tick", "50ms"},
			io.Discard, &stderr, alertOpts{ready: func(c *consumer.Consumer) { ready <- c }})
	}()
	var c *consumer.Consumer
	select {
	case c = <-ready:
	case code := <-done:
		t.Fatalf("gwctl alert exited %d: %s", code, stderr.String())
	}

	start := time.Now()
	produceAuthFailures(t, brokers, "203.0.113.7", 25, time.Now().UTC())

	var got amAlert
	require.Eventually(t, func() bool {
		for _, a := range amAlerts(t, amURL) {
			if a.Labels["alertname"] == "auth-brute-force" {
				got = a
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the alert never reached Alertmanager; gwctl log:\n%s", &stderr)
	t.Logf("event burst to alert visible in Alertmanager: %v", time.Since(start))
	assert.Less(t, time.Since(start), time.Second, "the webhook's outage did not hold Alertmanager back")
	assert.Equal(t, "203.0.113.7", got.Labels["client_ip"])
	assert.Equal(t, "security", got.Labels["team"])
	assert.Equal(t, "high", got.Labels["severity"])
	assert.Equal(t, "docs/runbooks/auth-brute-force.md", got.Annotations["runbook_url"])
	assert.Equal(t, "20 failed logins from 203.0.113.7", got.Annotations["summary"])
	assert.Equal(t, "active", got.Status.State)

	// The block reached the compacted blocklist topic in the contract's format.
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	recs, err := testkafka.Read(rctx, brokers, "gatewatch.blocklist", testkafka.AtLeast(1))
	require.NoError(t, err)
	rec, deleted, err := record.Decode(recs[0].Key, recs[0].Value)
	require.NoError(t, err)
	assert.False(t, deleted)
	assert.Equal(t, "ip:203.0.113.7", rec.Subject)
	assert.Equal(t, alert.AlertID("auth-brute-force", "203.0.113.7"), rec.AlertID)
	assert.Equal(t, "alert", rec.Source)
	assert.Equal(t, "gwctl alert", rec.CreatedBy)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), rec.Until, 30*time.Second)

	// Two seconds after the burst the window is empty: resolved in
	// Alertmanager (gone from the active list long before the firing
	// endsAt) and at the webhook.
	require.Eventually(t, func() bool {
		for _, a := range amAlerts(t, amURL) {
			if a.Labels["alertname"] == "auth-brute-force" {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "the alert never resolved in Alertmanager")
	require.Eventually(t, func() bool {
		s := hook.statuses()
		return len(s) == 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"firing", "resolved"}, hook.statuses(), "the webhook got one firing and one resolution, no re-sends")
	assert.Equal(t, uint64(3), c.Pipeline().Stats("hook").Retries)

	// The alerts topic holds the durable record of both transitions.
	arecs, err := testkafka.Read(rctx, brokers, "gatewatch.alerts", testkafka.AtLeast(2))
	require.NoError(t, err)
	assert.Equal(t, alert.AlertID("auth-brute-force", "203.0.113.7"), string(arecs[0].Key))

	require.Eventually(t, func() bool { return c.C.Committed.Load() == 25 }, 5*time.Second, 20*time.Millisecond,
		"every event's offset is committed once its alerts are delivered")
	cancel()
	assert.Equal(t, 0, <-done, stderr.String())
}

func TestARuleFileWithAnErrorIsRejectedWithFileLineAndField(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "broken.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(`rules:
  - name: brute
    match: {types: [auth.failure]}
    window: 1m
    threshold: {count: many}
    annotations: {summary: s, runbook_url: docs/runbooks/brute.md}
    actions: {annotate: true}
`), 0o600))
	var stderr bytes.Buffer
	code := runAlertWith(context.Background(), []string{"-check", "-rules", rules}, io.Discard, &stderr, alertOpts{})
	assert.Equal(t, 2, code)
	assert.Equal(t, "gwctl alert: "+rules+":5: rules[0](brute).threshold.count: expected a positive integer, got \"many\"\n", stderr.String())
}

func TestTheDefaultRuleFilePassesCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runAlertWith(context.Background(), []string{"-check", "-rules", "../../kong-conf/alert-rules.yaml"}, &stdout, &stderr, alertOpts{})
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "auth-brute-force")
}

func TestAReceiverWithoutItsSecretIsRejectedWithoutRevealingAnything(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "pd.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(`receivers:
  - name: pager
    type: pagerduty
    routing_key: {env: GATEWATCH_TEST_UNSET_ROUTING_KEY}
rules:
  - name: brute
    match: {types: [auth.failure]}
    window: 1m
    threshold: {count: 1}
    annotations: {summary: s, runbook_url: docs/runbooks/brute.md}
    actions: {notify: [pager]}
`), 0o600))
	var stderr bytes.Buffer
	code := runAlertWith(context.Background(), []string{"-check", "-rules", rules}, io.Discard, &stderr, alertOpts{})
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), rules+":2: receivers[0]: pagerduty pager: routing_key: environment variable GATEWATCH_TEST_UNSET_ROUTING_KEY: secret not set")
}
