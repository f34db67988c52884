package publish

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/gatewatch/gatewatch/pkg/spool"
)

// Config is the producer of one process. Zero values take the defaults
// written beside each field (see WithDefaults).
type Config struct {
	// Brokers are host:port seeds. Required.
	Brokers []string
	// Topic is used for messages whose Topic is empty. Required.
	Topic string
	// ClientID names this producer to the brokers. Default "gatewatch".
	ClientID string
	// Compression is snappy (default), lz4, zstd, gzip or none.
	Compression string
	// BatchSize is the most messages sent in one produce call. Default 1000.
	BatchSize int
	// BatchBytes is the most bytes (keys, values, headers) in one produce
	// call; a single larger message is dropped as too_large. Default 1 MiB.
	BatchBytes int
	// Linger is the longest a message waits for its batch to fill.
	// Default 5ms (kafka-go's own default of 1s would be felt in alerting).
	Linger time.Duration
	// BufferSize is how many messages wait in memory; Enqueue never blocks
	// and drops (counted, buffer_full) only when this is full. Default 65536.
	BufferSize int
	// WriteTimeout bounds one produce attempt. Default 10s.
	WriteTimeout time.Duration
	// TLS of the broker connection.
	TLS TLSConfig
	// SASL authentication.
	SASL SASLConfig
	// Spool is the disk buffer for when Kafka cannot take the events.
	// With Spool.Dir empty there is none: then events wait in memory while
	// the brokers are down (Enqueue drops once BufferSize is reached), and
	// what is still unsent when CloseTimeout ends, or when the process
	// dies, is lost.
	Spool spool.Config
	// CloseTimeout bounds Close: flush to Kafka until then, spool the
	// rest. Default 5s.
	CloseTimeout time.Duration
	// OnDrop, if set, is told about lost events: n of them, for reason (one
	// of the Drop* constants). It is called from a background goroutine at
	// most once a second per reason, never from Enqueue, so it may itself
	// Enqueue (a gatewatch.dropped event).
	OnDrop func(n int, reason string)
	// Logger receives state changes (broker down/up, spool drops); never
	// credentials. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means no metrics.
	Registerer prometheus.Registerer
}

// TLSConfig is the broker connection's TLS. Verification is on unless
// InsecureSkipVerify says otherwise.
type TLSConfig struct {
	Enabled            bool
	CAFile             string // PEM bundle; "" = system roots
	CertFile, KeyFile  string // client certificate, both or neither
	ServerName         string // "" = the host of the broker address
	InsecureSkipVerify bool
}

// SASLConfig is the broker authentication.
type SASLConfig struct {
	Mechanism string // "" (none), plain, scram-sha-256, scram-sha-512 (case-insensitive)
	Username  string
	Password  string
}

// Defaults.
const (
	DefaultClientID     = "gatewatch"
	DefaultCompression  = "snappy"
	DefaultBatchSize    = 1000
	DefaultBatchBytes   = 1 << 20
	DefaultLinger       = 5 * time.Millisecond
	DefaultBufferSize   = 65536
	DefaultWriteTimeout = 10 * time.Second
	DefaultCloseTimeout = 5 * time.Second
)

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Spool.Dir != "" {
		c.Spool = c.Spool.WithDefaults()
	}
	return c
}

// validate reports the first unusable field by name. It never quotes the
// password.
func (c Config) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("publish: Brokers: at least one host:port is required")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("publish: Brokers: %q: %w", b, err)
		}
	}
	if c.Topic == "" {
		return errors.New("publish: Topic: required")
	}
	if _, err := compression(c.Compression); err != nil {
		return err
	}
	switch {
	case c.BatchSize < 0:
		return fmt.Errorf("publish: BatchSize %d: must be positive", c.BatchSize)
	case c.BatchBytes < 0:
		return fmt.Errorf("publish: BatchBytes %d: must be positive", c.BatchBytes)
	case c.Linger < 0:
		return fmt.Errorf("publish: Linger %s: must not be negative", c.Linger)
	case c.BufferSize < 0:
		return fmt.Errorf("publish: BufferSize %d: must be positive", c.BufferSize)
	case c.WriteTimeout < 0:
		return fmt.Errorf("publish: WriteTimeout %s: must be positive", c.WriteTimeout)
	case c.CloseTimeout < 0:
		return fmt.Errorf("publish: CloseTimeout %s: must be positive", c.CloseTimeout)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("publish: TLS.CertFile and TLS.KeyFile: give both or neither")
	}
	switch strings.ToLower(c.SASL.Mechanism) {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		if c.SASL.Username == "" {
			return fmt.Errorf("publish: SASL.Username: required with mechanism %s", c.SASL.Mechanism)
		}
	default:
		return fmt.Errorf("publish: SASL.Mechanism %q: must be plain, scram-sha-256 or scram-sha-512", c.SASL.Mechanism)
	}
	if c.Spool.Dir != "" {
		if err := c.Spool.Validate(); err != nil {
			return fmt.Errorf("publish: Spool: %w", err)
		}
	}
	return nil
}

func compression(name string) (kafka.Compression, error) {
	switch strings.ToLower(name) {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("publish: Compression %q: must be snappy, lz4, zstd, gzip or none", name)
}

func (t TLSConfig) build() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // operator's explicit choice, off by default
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("publish: TLS.CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("publish: TLS.CAFile %s: no PEM certificate in it", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("publish: TLS.CertFile/KeyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s SASLConfig) build() (sasl.Mechanism, error) {
	switch strings.ToLower(s.Mechanism) {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "scram-sha-256":
		m, err := scram.Mechanism(scram.SHA256, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("publish: SASL: scram-sha-256 for user %q: %w", s.Username, err)
		}
		return m, nil
	case "scram-sha-512":
		m, err := scram.Mechanism(scram.SHA512, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("publish: SASL: scram-sha-512 for user %q: %w", s.Username, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("publish: SASL.Mechanism %q: unknown", s.Mechanism)
}
