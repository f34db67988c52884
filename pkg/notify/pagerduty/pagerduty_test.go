package pagerduty

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample() []alert.Alert {
	f := alert.Alert{
		ID: "5d1c0c5e0a7f4e2b9f2d3c4b5a697887", Status: alert.Firing, GroupKey: "203.0.113.7", Value: 25,
		Labels:      map[string]string{"alertname": "auth-brute-force", "severity": "high", "client_ip": "203.0.113.7"},
		Annotations: map[string]string{"summary": "25 failed logins from 203.0.113.7", "description": "basic-auth on login", "runbook_url": "https://runbooks.example/auth-brute-force"},
		StartsAt:    time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC),
	}
	r := f
	r.Status, r.EndsAt = alert.Resolved, time.Date(2026, 11, 25, 21, 2, 0, 0, time.UTC)
	return []alert.Alert{f, r}
}

// TestEventsMatchTheEventsAPIv2Shape checks what PagerDuty documents as
// required (routing_key, event_action, dedup_key for resolve; payload with
// summary, source and a severity of critical/error/warning/info for
// trigger) and the whole body against golden files.
func TestEventsMatchTheEventsAPIv2Shape(t *testing.T) {
	t.Setenv("GATEWATCH_TEST_PD_KEY", "R0UT1NGKEY0123456789012345678901")
	var mu sync.Mutex
	var bodies []map[string]any
	var raw [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/v2/enqueue", r.URL.Path)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		assert.NoError(t, json.Unmarshal(b, &m))
		mu.Lock()
		bodies, raw = append(bodies, m), append(raw, b)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"x"}`))
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL + "/v2/enqueue"}
	cfg.RoutingKey.Env = "GATEWATCH_TEST_PD_KEY"
	n, err := New("pager", cfg, srv.Client())
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), sample()...)
	require.NoError(t, err)
	require.Len(t, bodies, 2)

	trig, res := bodies[0], bodies[1]
	assert.Equal(t, "trigger", trig["event_action"])
	assert.Equal(t, "R0UT1NGKEY0123456789012345678901", trig["routing_key"])
	assert.Equal(t, "5d1c0c5e0a7f4e2b9f2d3c4b5a697887", trig["dedup_key"])
	p := trig["payload"].(map[string]any)
	assert.Equal(t, "25 failed logins from 203.0.113.7", p["summary"])
	assert.Equal(t, "gatewatch", p["source"])
	assert.Contains(t, []any{"critical", "error", "warning", "info"}, p["severity"])
	assert.Equal(t, "resolve", res["event_action"])
	assert.Equal(t, trig["dedup_key"], res["dedup_key"], "the resolve names the incident the trigger opened")
	assert.NotContains(t, res, "payload")

	for i, name := range []string{"trigger.golden.json", "resolve.golden.json"} {
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, raw[i], 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(raw[i]))
	}
}

func TestSeveritiesMapOntoPagerDutys(t *testing.T) {
	for in, want := range map[string]string{"critical": "critical", "high": "error", "medium": "warning", "low": "warning", "info": "info"} {
		assert.Equal(t, want, severity(in), in)
	}
}

func TestARejectedEventIsNotRetriedAndTheKeyIsNotInTheError(t *testing.T) {
	t.Setenv("GATEWATCH_TEST_PD_KEY", "R0UT1NGKEY-SECRET")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"invalid event","message":"routing_key R0UT1NGKEY-SECRET is invalid"}`))
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL}
	cfg.RoutingKey.Env = "GATEWATCH_TEST_PD_KEY"
	n, err := New("pager", cfg, srv.Client())
	require.NoError(t, err)
	retry, err := n.Notify(context.Background(), sample()[0])
	require.Error(t, err)
	assert.False(t, retry)
	assert.NotContains(t, err.Error(), "R0UT1NGKEY-SECRET")
}
