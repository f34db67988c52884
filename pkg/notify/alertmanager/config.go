package alertmanager

import (
	"time"

	"github.com/gatewatch/gatewatch/pkg/notify"
)

// Config is the receiver's settings in the rule file.
type Config struct {
	// URL is Alertmanager's base URL, e.g. http://127.0.0.1:9093.
	URL string `yaml:"url"`
	// Resend is how often firing alerts are sent again; default 1m.
	Resend time.Duration `yaml:"resend"`
	// GeneratorURL is the link back from Alertmanager; {rule} is replaced
	// by the rule name. Default gatewatch://rules/{rule}.
	GeneratorURL string `yaml:"generator_url"`
	// BasicAuthUser and BasicAuthPassword protect Alertmanager behind a
	// proxy; the password is a secret reference.
	BasicAuthUser     string           `yaml:"basic_auth_user"`
	BasicAuthPassword notify.SecretRef `yaml:"basic_auth_password"`
}
