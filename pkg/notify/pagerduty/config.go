package pagerduty

import "github.com/gatewatch/gatewatch/pkg/notify"

// Config is the receiver's settings in the rule file.
type Config struct {
	RoutingKey notify.SecretRef `yaml:"routing_key"`
	URL        string           `yaml:"url"`    // default DefaultURL
	Source     string           `yaml:"source"` // payload.source, default "gatewatch"
}
