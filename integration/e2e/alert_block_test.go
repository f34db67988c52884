package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testalertmanager"
	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

const bruteForceRules = `receivers:
  - name: alerts-topic
    type: kafka
    topic: gatewatch.alerts
  - name: alertmanager
    type: alertmanager
    url: %s
    resend: 1s
rules:
  - name: auth-brute-force
    match:
      types: [auth.failure]
    group_by: [client.ip]
    window: 4s
    threshold: {count: 5}
    resolve_after: 2s
    severity: high
    labels: {team: security}
    annotations:
      summary: "Brute force from {{ .Labels.client_ip }}"
      runbook_url: docs/runbooks/auth-brute-force.md
    actions:
      notify: [alerts-topic, alertmanager]
      block: {ttl: 2m}
`

// The whole loop: a brute-force burst through Kong becomes auth.failure
// events; gwctl alert fires its rule, pages a real Alertmanager (labels,
// runbook) and writes a block; the guard in front of the same Kong refuses
// that client within a second of the block record; and the alert resolves
// in Alertmanager once the window has passed.
func TestBruteForceAlertBlocksTheClientAtTheGuard(t *testing.T) {
	s := startStack(t, stackOptions{})
	am := testalertmanager.Start(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(fmt.Sprintf(bruteForceRules, am)), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alert := exec.CommandContext(ctx, filepath.Join(binDir, "gwctl"), "alert",
		"-brokers", strings.Join(s.brokers, ","), "-rules", rules, "-from-start",
		"-group", fmt.Sprintf("e2e-%d", time.Now().UnixNano()), "-tick", "100ms")
	alert.Stdout, alert.Stderr = testWriter{t}, testWriter{t}
	require.NoError(t, alert.Start())
	defer func() { cancel(); _ = alert.Wait() }()

	for i := 0; i < 6; i++ {
		resp := s.get(t, "/orders", map[string]string{"apikey": fmt.Sprintf("guess-%d", i)})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}

	// The block record gwctl alert wrote.
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	recs, err := testkafka.Read(rctx, s.brokers, "gatewatch.blocklist", testkafka.AtLeast(1))
	require.NoError(t, err, "gwctl alert wrote a block")
	var blockRec *kgo.Record
	for _, r := range recs {
		if string(r.Key) == "ip:127.0.0.1" && r.Value != nil {
			blockRec = r
		}
	}
	require.NotNil(t, blockRec, "a block for ip:127.0.0.1")
	rec, deleted, err := record.Decode(blockRec.Key, blockRec.Value)
	require.NoError(t, err)
	require.False(t, deleted)
	assert.Equal(t, "alert", rec.Source)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), rec.Until, 30*time.Second, "TTL from the rule")

	// The guard enforces it: a request with a valid key is refused.
	deadline := time.Now().Add(5 * time.Second)
	var blockedAt time.Time
	for time.Now().Before(deadline) {
		resp := s.get(t, "/public/x", nil)
		if resp.StatusCode == http.StatusForbidden {
			blockedAt = time.Now()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.False(t, blockedAt.IsZero(), "the guard blocked the client")
	lag := blockedAt.Sub(blockRec.Timestamp)
	t.Logf("block record at %s, first refusal %s later", blockRec.Timestamp.Format(time.RFC3339Nano), lag)
	assert.Less(t, lag, time.Second, "enforced within a second of the block")
	before := s.hits.Load()
	resp := s.get(t, "/public/y", nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, before, s.hits.Load(), "a blocked request does not reach the upstream")

	// Alertmanager has the alert, with the rule's labels and runbook.
	var paged *testalertmanager.Alert
	for wait := time.Now().Add(10 * time.Second); paged == nil && time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
		for _, a := range testalertmanager.Alerts(t, am) {
			if a.Labels["alertname"] == "auth-brute-force" {
				paged = &a
			}
		}
	}
	require.NotNil(t, paged, "the alert reached Alertmanager")
	assert.Equal(t, "security", paged.Labels["team"])
	assert.Equal(t, "high", paged.Labels["severity"])
	assert.Equal(t, "docs/runbooks/auth-brute-force.md", paged.Annotations["runbook_url"])
	assert.Contains(t, paged.Annotations["summary"], "127.0.0.1")

	// The burst is over: once the window has passed, it resolves.
	resolved := false
	for wait := time.Now().Add(20 * time.Second); !resolved && time.Now().Before(wait); time.Sleep(200 * time.Millisecond) {
		resolved = true
		for _, a := range testalertmanager.Alerts(t, am) {
			if a.Labels["alertname"] == "auth-brute-force" && (a.EndsAt.IsZero() || a.EndsAt.After(time.Now())) {
				resolved = false
			}
		}
	}
	assert.True(t, resolved, "the alert resolved in Alertmanager after the window")
}
