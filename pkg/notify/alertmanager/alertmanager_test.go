package alertmanager

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestThePayloadIsAPIv2PostableAlerts(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 1, 0, 0, time.UTC)
	n, err := New(Config{URL: "http://127.0.0.1:9093/", Resend: time.Minute}, http.DefaultClient, func() time.Time { return now })
	require.NoError(t, err)
	f := alert.Alert{
		ID: "5d1c", Status: alert.Firing, GroupKey: "203.0.113.7",
		Labels:      map[string]string{"alertname": "auth-brute-force", "severity": "high", "client_ip": "203.0.113.7"},
		Annotations: map[string]string{"summary": "25 failed logins", "runbook_url": "docs/runbooks/auth-brute-force.md"},
		StartsAt:    time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC),
	}
	r := f
	r.Status, r.EndsAt = alert.Resolved, now.Add(time.Hour) // event time ahead of the receiver's clock
	body, err := n.Payload(now, f, r)
	require.NoError(t, err)
	path := filepath.Join("testdata", "postable.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, body, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(body))
	assert.Equal(t, "http://127.0.0.1:9093/api/v2/alerts", n.endpoint)
}

func TestABadURLIsRejected(t *testing.T) {
	_, err := New(Config{URL: "127.0.0.1:9093"}, http.DefaultClient, time.Now)
	assert.ErrorContains(t, err, "url")
}
