package consumer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestABlockRecordTakesItsSubjectFromTheGroupKey(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	rule := func(group string) *alert.Rule {
		return &alert.Rule{Name: "r", GroupBy: []string{group}, Actions: alert.Actions{Block: &alert.Block{TTL: time.Hour}}}
	}
	tests := []struct {
		name    string
		alert   alert.Alert
		subject string
	}{
		{"an IP key blocks the address", alert.Alert{Rule: rule("client.ip"), GroupKey: "203.0.113.7", Status: alert.Firing}, "ip:203.0.113.7"},
		{"a mapped IPv6 key blocks the IPv4 address", alert.Alert{Rule: rule("client.ip"), GroupKey: "::ffff:203.0.113.7", Status: alert.Firing}, "ip:203.0.113.7"},
		{"a consumer key blocks the consumer", alert.Alert{Rule: rule("client.consumer.id"), GroupKey: "c-42", Status: alert.Firing}, "consumer:c-42"},
		{"an API key fingerprint blocks the key", alert.Alert{Rule: rule("detail.identity.value"), GroupKey: "0123456789abcdef", Status: alert.Firing}, "apikey-fp:0123456789abcdef"},
		{"a key that is not an address blocks nothing", alert.Alert{Rule: rule("client.ip"), GroupKey: "not-an-ip", Status: alert.Firing}, ""},
		{"a resolution blocks nothing", alert.Alert{Rule: rule("client.ip"), GroupKey: "203.0.113.7", Status: alert.Resolved}, ""},
		{"a rule without block blocks nothing", alert.Alert{Rule: &alert.Rule{GroupBy: []string{"client.ip"}}, GroupKey: "203.0.113.7", Status: alert.Firing}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.alert.ID = "id"
			tt.alert.Labels = map[string]string{"alertname": "r"}
			tt.alert.Annotations = map[string]string{"summary": "s"}
			rec, ok := BlockRecord(tt.alert, now)
			assert.Equal(t, tt.subject != "", ok)
			if ok {
				assert.Equal(t, tt.subject, rec.Subject)
				assert.Equal(t, now.Add(time.Hour), rec.Until)
				assert.Equal(t, "id", rec.AlertID)
				assert.Equal(t, "alert", rec.Source)
				assert.Equal(t, "gwctl alert", rec.CreatedBy)
				assert.Equal(t, "r: s", rec.Reason)
			}
		})
	}
}

func TestTransitionsGoToTheRulesReceiversAndRemindersOnlyToThoseThatResend(t *testing.T) {
	rs, err := alert.Parse("r.yaml", []byte(`
receivers:
  - {name: am, type: alertmanager, url: "http://127.0.0.1:1"}
  - {name: hook, type: webhook, url: "http://127.0.0.1:1"}
  - {name: topic, type: kafka}
rules:
  - name: paged
    match: {types: [auth.failure]}
    window: 1m
    threshold: {count: 1}
    annotations: {summary: s, runbook_url: docs/runbooks/paged.md}
    actions: {notify: [am, hook]}
  - name: noted
    match: {types: [auth.failure]}
    window: 1m
    threshold: {count: 1}
    annotations: {summary: s, runbook_url: docs/runbooks/noted.md}
    actions: {annotate: true}
`))
	require.NoError(t, err)
	receivers, err := BuildReceivers(rs, nil, nil, time.Now)
	require.NoError(t, err)
	c := &Consumer{kinds: map[string]string{"am": TypeAlertmanager, "hook": TypeWebhook, "topic": TypeKafka}, pipe: notify.New(slog.New(slog.DiscardHandler), receivers...)}
	defer c.pipe.Close(context.Background())
	paged := alert.Alert{ID: "p", Rule: rs.Rules[0]}
	noted := alert.Alert{ID: "n", Rule: rs.Rules[1]}
	batch := c.route([]alert.Alert{paged, noted}, []alert.Alert{paged})
	ids := func(as []alert.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	assert.Equal(t, []string{"p", "p"}, ids(batch["am"]), "a transition and a reminder for Alertmanager")
	assert.Equal(t, []string{"p"}, ids(batch["hook"]), "no reminders for a webhook")
	assert.Equal(t, []string{"n"}, ids(batch["topic"]), "annotate goes to the Kafka receiver only")
}
