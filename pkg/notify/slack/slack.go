// Package slack posts alerts to a Slack-compatible incoming webhook
// (Slack, Mattermost, Rocket.Chat accept the same {"text": …} body). The
// webhook URL is itself the credential, so it is read from the environment
// or a file and never appears in errors or logs.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
)

// Notifier posts to one incoming webhook.
type Notifier struct {
	name   string
	cfg    Config
	url    notify.Secret
	client *http.Client
}

// New validates cfg and reads the URL.
func New(name string, cfg Config, client *http.Client) (*Notifier, error) {
	u, err := cfg.URL.Resolve("slack " + name + ": url")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(u.Value(), "https://") && !strings.HasPrefix(u.Value(), "http://") {
		return nil, fmt.Errorf("slack %s: url: expected an http(s) URL", name)
	}
	return &Notifier{name: name, cfg: cfg, url: u, client: client}, nil
}

// Message is the incoming-webhook body.
type Message struct {
	Text     string `json:"text"`
	Channel  string `json:"channel,omitempty"`
	Username string `json:"username,omitempty"`
}

// escape applies Slack's three mandatory entity escapes.
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// Text renders alerts as one message.
func Text(alerts ...alert.Alert) string {
	var b strings.Builder
	for i, a := range alerts {
		if i > 0 {
			b.WriteString("\n\n")
		}
		mark := ":rotating_light: *FIRING*"
		if a.Status == alert.Resolved {
			mark = ":white_check_mark: *RESOLVED*"
		}
		fmt.Fprintf(&b, "%s [%s] %s: %s", mark, escape(a.Labels["severity"]), escape(a.Labels["alertname"]), escape(a.Annotations["summary"]))
		if d := a.Annotations["description"]; d != "" {
			b.WriteString("\n" + escape(d))
		}
		if r := a.Annotations["runbook_url"]; r != "" {
			b.WriteString("\nRunbook: " + escape(r))
		}
		b.WriteString("\nAlert " + a.ID)
	}
	return b.String()
}

// Notify posts alerts as one message.
func (n *Notifier) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	body, err := json.Marshal(Message{Text: Text(alerts...), Channel: n.cfg.Channel, Username: n.cfg.Username})
	if err != nil {
		return false, fmt.Errorf("slack %s: encode: %w", n.name, err)
	}
	retry, err := notify.Post(ctx, n.client, n.url.Value(), nil, body, n.url.Value())
	if err != nil {
		return retry, fmt.Errorf("slack %s: %w", n.name, err)
	}
	return false, nil
}
