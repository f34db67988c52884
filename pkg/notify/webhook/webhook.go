// Package webhook posts alerts as JSON to any HTTP endpoint, optionally
// signed: with a secret configured, the X-Gatewatch-Signature header is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)) and
// X-Gatewatch-Timestamp is the Unix time it was signed at, so a receiver
// can reject forged and replayed requests. The body shape is documented in
// docs/alerting.md and fixed by testdata/payload.golden.json.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
)

// Header names.
const (
	SignatureHeader = "X-Gatewatch-Signature"
	TimestampHeader = "X-Gatewatch-Timestamp"
)

// Notifier posts to one webhook.
type Notifier struct {
	name   string
	url    string
	secret notify.Secret
	signed bool
	client *http.Client
	now    func() time.Time
}

// New validates cfg; name is the receiver's name, carried in the payload.
func New(name string, cfg Config, client *http.Client, now func() time.Time) (*Notifier, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook %s: url: expected http(s)://host/path", name)
	}
	n := &Notifier{name: name, url: cfg.URL, client: client, now: now}
	if cfg.HMACSecret.IsSet() {
		if n.secret, err = cfg.HMACSecret.Resolve("webhook " + name + ": hmac_secret"); err != nil {
			return nil, err
		}
		n.signed = true
	}
	return n, nil
}

// Payload is the webhook body.
type Payload struct {
	Version  string  `json:"version"`
	Receiver string  `json:"receiver"`
	Alerts   []Alert `json:"alerts"`
}

// Alert is one alert in the payload.
type Alert struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Rule        string            `json:"rule"`
	Severity    string            `json:"severity"`
	GroupKey    string            `json:"group_key"`
	Value       float64           `json:"value"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// Encode builds the body for alerts.
func Encode(receiver string, alerts ...alert.Alert) ([]byte, error) {
	p := Payload{Version: "1", Receiver: receiver, Alerts: make([]Alert, 0, len(alerts))}
	for _, a := range alerts {
		w := Alert{
			ID: a.ID, Status: string(a.Status), Rule: a.Labels["alertname"], Severity: a.Labels["severity"],
			GroupKey: a.GroupKey, Value: a.Value, StartsAt: a.StartsAt.UTC(), Labels: a.Labels, Annotations: a.Annotations,
		}
		if a.Status == alert.Resolved {
			t := a.EndsAt.UTC()
			w.EndsAt = &t
		}
		p.Alerts = append(p.Alerts, w)
	}
	return json.Marshal(p)
}

// Sign returns the signature header value for body signed at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notify posts alerts in one request.
func (n *Notifier) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	body, err := Encode(n.name, alerts...)
	if err != nil {
		return false, fmt.Errorf("webhook %s: encode: %w", n.name, err)
	}
	h := http.Header{}
	if n.signed {
		ts := n.now().Unix()
		h.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		h.Set(SignatureHeader, Sign([]byte(n.secret.Value()), ts, body))
	}
	retry, err := notify.Post(ctx, n.client, n.url, h, body)
	if err != nil {
		return retry, fmt.Errorf("webhook %s: %w", n.name, err)
	}
	return false, nil
}
