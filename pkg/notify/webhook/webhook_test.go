package webhook

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 25, 21, 0, 5, 0, time.UTC)

func sample() []alert.Alert {
	f := alert.Alert{
		ID: "5d1c0c5e0a7f4e2b9f2d3c4b5a697887", Status: alert.Firing, GroupKey: "203.0.113.7", Value: 25,
		Labels:      map[string]string{"alertname": "auth-brute-force", "severity": "high", "client_ip": "203.0.113.7", "team": "security"},
		Annotations: map[string]string{"summary": "25 failed logins from 203.0.113.7", "runbook_url": "docs/runbooks/auth-brute-force.md"},
		StartsAt:    time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC),
	}
	r := f
	r.Status, r.EndsAt = alert.Resolved, time.Date(2026, 11, 25, 21, 2, 0, 0, time.UTC)
	return []alert.Alert{f, r}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
}

func TestThePayloadMatchesTheDocumentedShape(t *testing.T) {
	body, err := Encode("soc", sample()...)
	require.NoError(t, err)
	golden(t, "payload.golden.json", body)
}

func TestASignedRequestCarriesAVerifiableSignature(t *testing.T) {
	t.Setenv("GATEWATCH_TEST_HOOK_SECRET", "hook-secret")
	type got struct {
		body        []byte
		sig, ts, ct string
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{b, r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), r.Header.Get("Content-Type")}
	}))
	defer srv.Close()
	var cfg Config
	cfg.URL = srv.URL + "/hook"
	cfg.HMACSecret.Env = "GATEWATCH_TEST_HOOK_SECRET"
	n, err := New("soc", cfg, srv.Client(), func() time.Time { return now })
	require.NoError(t, err)
	retry, err := n.Notify(context.Background(), sample()[0])
	require.NoError(t, err)
	assert.False(t, retry)
	g := <-ch
	assert.Equal(t, "application/json", g.ct)
	assert.Equal(t, "1795640405", g.ts)
	assert.Equal(t, Sign([]byte("hook-secret"), now.Unix(), g.body), g.sig)
	assert.NotEqual(t, Sign([]byte("other"), now.Unix(), g.body), g.sig)
	assert.Regexp(t, `^sha256=[0-9a-f]{64}$`, g.sig)
}

func TestAnUnsignedWebhookSendsNoSignature(t *testing.T) {
	ch := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ch <- r.Header.Get(SignatureHeader) }))
	defer srv.Close()
	n, err := New("soc", Config{URL: srv.URL}, srv.Client(), time.Now)
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), sample()...)
	require.NoError(t, err)
	assert.Empty(t, <-ch)
}

func TestABadURLIsRejected(t *testing.T) {
	_, err := New("soc", Config{URL: "ftp://x"}, http.DefaultClient, time.Now)
	assert.ErrorContains(t, err, "url")
}
