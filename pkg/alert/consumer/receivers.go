package consumer

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/gatewatch/gatewatch/pkg/notify/alertmanager"
	"github.com/gatewatch/gatewatch/pkg/notify/kafkatopic"
	"github.com/gatewatch/gatewatch/pkg/notify/pagerduty"
	"github.com/gatewatch/gatewatch/pkg/notify/slack"
	"github.com/gatewatch/gatewatch/pkg/notify/webhook"
)

// Receiver types accepted in a rule file's receivers list.
const (
	TypeAlertmanager = "alertmanager"
	TypeWebhook      = "webhook"
	TypeSlack        = "slack"
	TypePagerDuty    = "pagerduty"
	TypeKafka        = "kafka"
)

// retrySettings are the keys every receiver accepts besides its own.
type retrySettings struct {
	MaxElapsed time.Duration `yaml:"retry_for"` // give up after this long; default 2m
}

// BuildReceivers turns the rule file's receiver specs into notifiers. The
// Kafka receiver produces through p.
func BuildReceivers(rs *alert.RuleSet, p kafkatopic.Producer, client *http.Client, now func() time.Time) ([]notify.Receiver, error) {
	var out []notify.Receiver
	for _, spec := range rs.Receivers {
		r := notify.Receiver{Name: spec.Name}
		var retry retrySettings
		var err error
		switch spec.Type {
		case TypeAlertmanager:
			var cfg struct {
				alertmanager.Config `yaml:",inline"`
				retrySettings       `yaml:",inline"`
			}
			if err = notify.DecodeSettings(spec, &cfg); err != nil {
				return nil, err
			}
			var n *alertmanager.Notifier
			if n, err = alertmanager.New(cfg.Config, client, now); err == nil {
				r.Notifier, r.Resend, retry = n, n.Resend(), cfg.retrySettings
			}
		case TypeWebhook:
			var cfg struct {
				webhook.Config `yaml:",inline"`
				retrySettings  `yaml:",inline"`
			}
			if err = notify.DecodeSettings(spec, &cfg); err != nil {
				return nil, err
			}
			r.Notifier, err = webhook.New(spec.Name, cfg.Config, client, now)
			retry = cfg.retrySettings
		case TypeSlack:
			var cfg struct {
				slack.Config  `yaml:",inline"`
				retrySettings `yaml:",inline"`
			}
			if err = notify.DecodeSettings(spec, &cfg); err != nil {
				return nil, err
			}
			r.Notifier, err = slack.New(spec.Name, cfg.Config, client)
			retry = cfg.retrySettings
		case TypePagerDuty:
			var cfg struct {
				pagerduty.Config `yaml:",inline"`
				retrySettings    `yaml:",inline"`
			}
			if err = notify.DecodeSettings(spec, &cfg); err != nil {
				return nil, err
			}
			r.Notifier, err = pagerduty.New(spec.Name, cfg.Config, client)
			retry = cfg.retrySettings
		case TypeKafka:
			var cfg struct {
				kafkatopic.Config `yaml:",inline"`
				retrySettings     `yaml:",inline"`
			}
			if err = notify.DecodeSettings(spec, &cfg); err != nil {
				return nil, err
			}
			r.Notifier = kafkatopic.New(cfg.Config, p)
			retry = cfg.retrySettings
		default:
			return nil, &alert.FieldError{File: spec.File, Line: spec.Line, Field: spec.Path + ".type",
				Msg: fmt.Sprintf("unknown receiver type %q (want alertmanager, webhook, slack, pagerduty or kafka)", spec.Type)}
		}
		if err != nil {
			return nil, &alert.FieldError{File: spec.File, Line: spec.Line, Field: spec.Path, Msg: err.Error()}
		}
		r.Backoff.MaxElapsed = retry.MaxElapsed
		out = append(out, r)
	}
	return out, nil
}
