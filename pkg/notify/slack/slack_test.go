package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAMessageCarriesStatusSummaryAndRunbookEscaped(t *testing.T) {
	ch := make(chan Message, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m Message
		assert.NoError(t, json.Unmarshal(b, &m))
		ch <- m
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	f, err := os.CreateTemp(t.TempDir(), "url")
	require.NoError(t, err)
	_, _ = f.WriteString(srv.URL + "/services/T000/B000/XXXX\n")
	f.Close()
	cfg := Config{Channel: "#soc"}
	cfg.URL.File = f.Name()
	n, err := New("soc", cfg, srv.Client())
	require.NoError(t, err)
	a := alert.Alert{
		ID: "abc", Status: alert.Firing, StartsAt: time.Now(),
		Labels:      map[string]string{"alertname": "attack-signature", "severity": "high"},
		Annotations: map[string]string{"summary": "<script> from 203.0.113.7 & co", "runbook_url": "docs/runbooks/attack-signature.md"},
	}
	r := a
	r.Status = alert.Resolved
	_, err = n.Notify(context.Background(), a, r)
	require.NoError(t, err)
	m := <-ch
	assert.Equal(t, "#soc", m.Channel)
	want, err := os.ReadFile("testdata/message.golden.txt")
	require.NoError(t, err)
	assert.Equal(t, string(want), m.Text+"\n")
}
