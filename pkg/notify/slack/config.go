package slack

import "github.com/gatewatch/gatewatch/pkg/notify"

// Config is the receiver's settings in the rule file.
type Config struct {
	URL      notify.SecretRef `yaml:"url"`
	Channel  string           `yaml:"channel"`
	Username string           `yaml:"username"`
}
