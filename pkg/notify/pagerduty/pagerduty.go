// Package pagerduty sends alerts to the PagerDuty Events API v2: a firing
// alert is a "trigger", a resolution a "resolve", both with dedup_key set
// to the alert's stable ID, so a re-sent trigger (after a restart, or from
// a second instance) updates the open incident instead of paging again.
// The routing key is a secret read from the environment or a file.
package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
)

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Notifier sends to one PagerDuty service.
type Notifier struct {
	name   string
	cfg    Config
	key    notify.Secret
	client *http.Client
}

// New validates cfg and reads the routing key.
func New(name string, cfg Config, client *http.Client) (*Notifier, error) {
	key, err := cfg.RoutingKey.Resolve("pagerduty " + name + ": routing_key")
	if err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Source == "" {
		cfg.Source = "gatewatch"
	}
	return &Notifier{name: name, cfg: cfg, key: key, client: client}, nil
}

// Event is an Events API v2 request.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger or resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"`
	Links       []Link   `json:"links,omitempty"`
	Client      string   `json:"client,omitempty"`
}

// Payload describes a trigger.
type Payload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"` // critical, error, warning, info
	Timestamp     string            `json:"timestamp,omitempty"`
	Component     string            `json:"component,omitempty"`
	Group         string            `json:"group,omitempty"`
	Class         string            `json:"class,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

// Link is a link shown on the incident.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// severity maps gatewatch severities onto PagerDuty's four.
func severity(s string) string {
	switch s {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium", "low":
		return "warning"
	}
	return "info"
}

// Build returns the Events API request for a.
func Build(routingKey, source string, a alert.Alert) Event {
	ev := Event{RoutingKey: routingKey, DedupKey: a.ID, EventAction: "trigger"}
	if a.Status == alert.Resolved {
		ev.EventAction = "resolve"
		return ev
	}
	summary := a.Annotations["summary"]
	if len(summary) > 1024 { // the API's limit
		summary = summary[:1024]
	}
	details := map[string]string{"group_key": a.GroupKey, "value": fmt.Sprint(a.Value)}
	for k, v := range a.Labels {
		details["label."+k] = v
	}
	if d := a.Annotations["description"]; d != "" {
		details["description"] = d
	}
	ev.Payload = &Payload{
		Summary: summary, Source: source, Severity: severity(a.Labels["severity"]),
		Timestamp: a.StartsAt.UTC().Format(time.RFC3339Nano), Component: a.GroupKey,
		Group: a.Labels["alertname"], Class: a.Labels["alertname"], CustomDetails: details,
	}
	ev.Client = "gatewatch"
	if r := a.Annotations["runbook_url"]; r != "" {
		ev.Links = []Link{{Href: r, Text: "Runbook"}}
	}
	return ev
}

// Notify sends one request per alert (the API takes one event per
// request); it stops at the first failure so that the pipeline retries the
// rest, and re-sending the ones that succeeded is harmless by dedup_key.
func (n *Notifier) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	for _, a := range alerts {
		body, err := json.Marshal(Build(n.key.Value(), n.cfg.Source, a))
		if err != nil {
			return false, fmt.Errorf("pagerduty %s: encode: %w", n.name, err)
		}
		if retry, err := notify.Post(ctx, n.client, n.cfg.URL, nil, body, n.key.Value()); err != nil {
			return retry, fmt.Errorf("pagerduty %s: %s %s: %w", n.name, a.Status, a.ID, err)
		}
	}
	return false, nil
}
