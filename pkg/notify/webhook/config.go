package webhook

import "github.com/gatewatch/gatewatch/pkg/notify"

// Config is the receiver's settings in the rule file.
type Config struct {
	URL        string           `yaml:"url"`
	HMACSecret notify.SecretRef `yaml:"hmac_secret"`
}
