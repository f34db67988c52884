// Package config holds a gatewatch plugin server's process settings: the
// Kafka connection, the disk spool, the metrics listener, logging and the
// blocklist. They belong to the process, not to a route (DESIGN.md,
// "Process settings vs plugin config"), and come from a YAML file named with
// -config plus GATEWATCH_* environment overrides.
//
// Guarantees: Default is the one place defaults are written; a file is
// decoded strictly (an unknown key is an error naming the key and its line,
// a bad value an error naming the key); every value is checked by Validate;
// secrets (sasl.password) never appear in an error or in String.
package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
)

// Process is the whole settings file.
type Process struct {
	Kafka     Kafka     `yaml:"kafka"`
	Spool     Spool     `yaml:"spool"`
	Metrics   Metrics   `yaml:"metrics"`
	Log       Log       `yaml:"log"`
	Blocklist Blocklist `yaml:"blocklist"`
	GeoIP     GeoIP     `yaml:"geoip"`
	Redaction Redaction `yaml:"redaction"`
}

// Kafka is the producer connection shared by every route of the process.
type Kafka struct {
	Brokers      []string      `yaml:"brokers"`       // host:port; empty means no Kafka (events only spool)
	Topic        string        `yaml:"topic"`         // events topic
	ClientID     string        `yaml:"client_id"`     //
	Compression  string        `yaml:"compression"`   // none, gzip, snappy, lz4, zstd
	BatchSize    int           `yaml:"batch_size"`    // messages per batch
	BatchBytes   int64         `yaml:"batch_bytes"`   // bytes per batch
	Linger       time.Duration `yaml:"linger"`        // longest wait to fill a batch
	WriteTimeout time.Duration `yaml:"write_timeout"` // per produce request
	BufferSize   int           `yaml:"buffer_size"`   // events queued in memory before spilling
	CloseTimeout time.Duration `yaml:"close_timeout"` // flush budget at shutdown
	TLS          TLS           `yaml:"tls"`
	SASL         SASL          `yaml:"sasl"`
}

// TLS for the broker connection.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL authentication. Give the password inline or, better, in a file.
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username     string `yaml:"username"`
	Password     string `yaml:"password" secret:"true"`
	PasswordFile string `yaml:"password_file"`
}

// Spool is the disk buffer used while the brokers are unreachable.
type Spool struct {
	Dir           string        `yaml:"dir"` // empty: no spool
	MaxBytes      int64         `yaml:"max_bytes"`
	MaxAge        time.Duration `yaml:"max_age"`
	Fsync         string        `yaml:"fsync"`          // always, interval, never
	FsyncInterval time.Duration `yaml:"fsync_interval"` // used with fsync: interval
}

// Metrics is the Prometheus listener.
type Metrics struct {
	Addr string `yaml:"addr"` // host:port; empty: no listener
}

// Log is the process's own logging (to stderr, which Kong copies to its
// error log).
type Log struct {
	Level string `yaml:"level"` // debug, info, warn, error
}

// Blocklist is where the guard learns containment decisions.
type Blocklist struct {
	Topic        string `yaml:"topic"`
	SnapshotFile string `yaml:"snapshot_file"` // empty: no snapshot
}

// GeoIP names the operator's MaxMind-format databases (GeoLite2/GeoIP2
// City or Country, and ASN). Empty: events carry no client.geo/client.as.
type GeoIP struct {
	CityDB string `yaml:"city_db"`
	ASNDB  string `yaml:"asn_db"`
}

// Redaction keys the fingerprints that stand in for API keys in events.
type Redaction struct {
	// FingerprintKeyFile holds a per-deployment secret; the same key on
	// every gateway makes fingerprints comparable across them. Empty: an
	// unkeyed hash, which a holder of a candidate key can confirm.
	FingerprintKeyFile string `yaml:"fingerprint_key_file"`
}

// Default returns the defaults; every setting not given keeps its value.
func Default() *Process {
	return &Process{
		Kafka: Kafka{
			Brokers:      []string{},
			Topic:        "gatewatch.events",
			ClientID:     "gatewatch",
			Compression:  "snappy",
			BatchSize:    1000,
			BatchBytes:   1 << 20,
			Linger:       5 * time.Millisecond,
			WriteTimeout: 10 * time.Second,
			BufferSize:   65536,
			CloseTimeout: 5 * time.Second,
		},
		Spool: Spool{
			MaxBytes:      1 << 30,
			MaxAge:        168 * time.Hour,
			Fsync:         "interval",
			FsyncInterval: 100 * time.Millisecond,
		},
		Log:       Log{Level: "info"},
		Blocklist: Blocklist{Topic: "gatewatch.blocklist"},
	}
}

// Environment variables that override the file.
const (
	EnvKafkaBrokers = "GATEWATCH_KAFKA_BROKERS" // comma-separated host:port
	EnvKafkaTopic   = "GATEWATCH_KAFKA_TOPIC"
	EnvSpoolDir     = "GATEWATCH_SPOOL_DIR"
	EnvMetricsAddr  = "GATEWATCH_METRICS_ADDR"
)

// Load returns the defaults, overlaid by the file at path (if path is not
// empty), overlaid by the environment as read through env (nil: none; an
// empty variable counts as unset), and validated.
func Load(path string, env func(string) string) (*Process, error) {
	p := Default()
	var lines map[string]int
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if lines, err = decode(data, p); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if env != nil {
		if err := applyEnv(p, env); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	if err := p.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok && lines[fe.Key] > 0 && path != "" {
			return nil, fmt.Errorf("config: %s: line %d: %w", path, lines[fe.Key], err)
		}
		if path != "" {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return p, nil
}

func applyEnv(p *Process, env func(string) string) error {
	if v := strings.TrimSpace(env(EnvKafkaBrokers)); v != "" {
		var brokers []string
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		for _, b := range brokers {
			if err := checkHostPort(b, false); err != nil {
				return fmt.Errorf("%s: broker %q: %v", EnvKafkaBrokers, b, err)
			}
		}
		p.Kafka.Brokers = brokers
	}
	if v := strings.TrimSpace(env(EnvKafkaTopic)); v != "" {
		if err := checkTopic(v); err != nil {
			return fmt.Errorf("%s: %v", EnvKafkaTopic, err)
		}
		p.Kafka.Topic = v
	}
	if v := env(EnvSpoolDir); v != "" {
		p.Spool.Dir = v
	}
	if v := strings.TrimSpace(env(EnvMetricsAddr)); v != "" {
		if err := checkHostPort(v, true); err != nil {
			return fmt.Errorf("%s: %q: %v", EnvMetricsAddr, v, err)
		}
		p.Metrics.Addr = v
	}
	return nil
}

// Secret returns the SASL password, read from PasswordFile when that is
// set (trailing newline removed).
func (s SASL) Secret() (string, error) {
	if s.PasswordFile == "" {
		return s.Password, nil
	}
	data, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("config: kafka.sasl.password_file: %w", err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// String lists every setting as key=value, secrets redacted, for a startup
// log line.
func (p *Process) String() string {
	var b strings.Builder
	walkLeaves(reflect.ValueOf(p).Elem(), "", func(key string, v reflect.Value, secret bool) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		switch {
		case secret && !v.IsZero():
			b.WriteString("[redacted]")
		case v.Type() == reflect.TypeOf(time.Duration(0)):
			b.WriteString(time.Duration(v.Int()).String())
		default:
			fmt.Fprintf(&b, "%v", v.Interface())
		}
	})
	return b.String()
}

// walkLeaves calls fn for every non-struct field, with its dotted yaml key.
func walkLeaves(v reflect.Value, prefix string, fn func(key string, v reflect.Value, secret bool)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := yamlKey(sf)
		if prefix != "" {
			key = prefix + "." + key
		}
		if sf.Type.Kind() == reflect.Struct {
			walkLeaves(v.Field(i), key, fn)
			continue
		}
		fn(key, v.Field(i), sf.Tag.Get("secret") == "true")
	}
}

func yamlKey(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}
