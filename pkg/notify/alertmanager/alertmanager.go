// Package alertmanager sends alerts to Prometheus Alertmanager through its
// API v2 (POST /api/v2/alerts). Alertmanager forgets an alert whose endsAt
// passes, so a firing alert is sent with endsAt a few resend intervals
// ahead and must be re-sent while it fires (Receiver.Resend); a resolution
// is the same alert with endsAt at the resolution time. Alertmanager
// identifies an alert by its label set, which is stable per rule and group
// key, so re-sending (or a restart) never creates a second alert.
package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
)

// Notifier posts to one Alertmanager.
type Notifier struct {
	cfg      Config
	endpoint string
	password notify.Secret
	client   *http.Client
	now      func() time.Time
}

// New validates cfg.
func New(cfg Config, client *http.Client, now func() time.Time) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager: url: expected http(s)://host:port, got %q", cfg.URL)
	}
	if cfg.Resend <= 0 {
		cfg.Resend = alert.DefaultRepeat
	}
	if cfg.GeneratorURL == "" {
		cfg.GeneratorURL = "gatewatch://rules/{rule}"
	}
	n := &Notifier{cfg: cfg, endpoint: strings.TrimRight(cfg.URL, "/") + "/api/v2/alerts", client: client, now: now}
	if cfg.BasicAuthPassword.IsSet() {
		if n.password, err = cfg.BasicAuthPassword.Resolve("alertmanager: basic_auth_password"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Resend is the interval at which firing alerts must be sent again.
func (n *Notifier) Resend() time.Duration { return n.cfg.Resend }

// postableAlert is the API v2 schema's postableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Payload is the request body for alerts at now (exported for tests and
// golden files).
func (n *Notifier) Payload(now time.Time, alerts ...alert.Alert) ([]byte, error) {
	out := make([]postableAlert, 0, len(alerts))
	for _, a := range alerts {
		p := postableAlert{
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			StartsAt:     a.StartsAt.UTC(),
			GeneratorURL: strings.ReplaceAll(n.cfg.GeneratorURL, "{rule}", url.PathEscape(a.Labels["alertname"])),
		}
		if a.Status == alert.Resolved {
			// Event time may run slightly ahead of Alertmanager's clock; a
			// resolution must be in its past to count as resolved.
			p.EndsAt = a.EndsAt.UTC()
			if p.EndsAt.After(now) {
				p.EndsAt = now.UTC()
			}
		} else {
			p.EndsAt = now.Add(4 * n.cfg.Resend).UTC()
		}
		if !p.EndsAt.After(p.StartsAt) {
			p.StartsAt = p.EndsAt.Add(-time.Second)
		}
		out = append(out, p)
	}
	return json.Marshal(out)
}

// Notify posts alerts in one request.
func (n *Notifier) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	body, err := n.Payload(n.now(), alerts...)
	if err != nil {
		return false, fmt.Errorf("alertmanager: encode: %w", err)
	}
	h := http.Header{}
	if n.cfg.BasicAuthUser != "" {
		r := http.Request{Header: h}
		r.SetBasicAuth(n.cfg.BasicAuthUser, n.password.Value())
	}
	retry, err := notify.Post(ctx, n.client, n.endpoint, h, body, n.password.Value())
	if err != nil {
		return retry, fmt.Errorf("alertmanager %s: %w", n.cfg.URL, err)
	}
	return false, nil
}
