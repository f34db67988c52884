package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// FieldError is a setting with a value that cannot work.
type FieldError struct {
	Key string // dotted yaml key, e.g. kafka.compression
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

func bad(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every setting and returns the first problem as a
// *FieldError. Secret values are never quoted.
func (p *Process) Validate() error {
	k := &p.Kafka
	for i, b := range k.Brokers {
		if err := checkHostPort(b, false); err != nil {
			return bad("kafka.brokers", "entry %d %q: %v", i+1, b, err)
		}
	}
	if err := checkTopic(k.Topic); err != nil {
		return bad("kafka.topic", "%v", err)
	}
	if strings.TrimSpace(k.ClientID) == "" {
		return bad("kafka.client_id", "must not be empty")
	}
	if err := oneOf(k.Compression, "none", "gzip", "snappy", "lz4", "zstd"); err != nil {
		return bad("kafka.compression", "%v", err)
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"kafka.batch_size", int64(k.BatchSize)},
		{"kafka.batch_bytes", k.BatchBytes},
		{"kafka.buffer_size", int64(k.BufferSize)},
		{"kafka.write_timeout", int64(k.WriteTimeout)},
		{"kafka.close_timeout", int64(k.CloseTimeout)},
		{"spool.max_bytes", p.Spool.MaxBytes},
		{"spool.max_age", int64(p.Spool.MaxAge)},
	}
	for _, c := range positive {
		if c.v <= 0 {
			return bad(c.key, "must be greater than zero")
		}
	}
	if k.Linger < 0 {
		return bad("kafka.linger", "must not be negative")
	}
	if err := k.TLS.validate(); err != nil {
		return err
	}
	if err := k.SASL.validate(); err != nil {
		return err
	}
	if err := oneOf(p.Spool.Fsync, "always", "interval", "never"); err != nil {
		return bad("spool.fsync", "%v", err)
	}
	if p.Spool.Fsync == "interval" && p.Spool.FsyncInterval <= 0 {
		return bad("spool.fsync_interval", "must be greater than zero when spool.fsync is interval")
	}
	if p.Metrics.Addr != "" {
		if err := checkHostPort(p.Metrics.Addr, true); err != nil {
			return bad("metrics.addr", "%q: %v", p.Metrics.Addr, err)
		}
	}
	if err := oneOf(p.Log.Level, "debug", "info", "warn", "error"); err != nil {
		return bad("log.level", "%v", err)
	}
	if err := checkTopic(p.Blocklist.Topic); err != nil {
		return bad("blocklist.topic", "%v", err)
	}
	return nil
}

func (t *TLS) validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return bad("kafka.tls.cert_file", "cert_file and key_file go together")
	}
	if !t.Enabled {
		return nil
	}
	for _, f := range []struct{ key, path string }{
		{"kafka.tls.ca_file", t.CAFile}, {"kafka.tls.cert_file", t.CertFile}, {"kafka.tls.key_file", t.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return bad(f.key, "%v", err)
		}
	}
	return nil
}

func (s *SASL) validate() error {
	if s.Mechanism == "" {
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			return bad("kafka.sasl.mechanism", "must be set when a username or password is given")
		}
		return nil
	}
	if err := oneOf(s.Mechanism, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"); err != nil {
		return bad("kafka.sasl.mechanism", "%v", err)
	}
	if s.Username == "" {
		return bad("kafka.sasl.username", "must be set with a SASL mechanism")
	}
	switch {
	case s.Password != "" && s.PasswordFile != "":
		return bad("kafka.sasl.password", "give password or password_file, not both")
	case s.Password == "" && s.PasswordFile == "":
		return bad("kafka.sasl.password", "password or password_file must be set with a SASL mechanism")
	case s.PasswordFile != "":
		if _, err := os.Stat(s.PasswordFile); err != nil {
			return bad("kafka.sasl.password_file", "%v", err)
		}
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

// checkHostPort accepts host:port; an empty host (":9100", all
// interfaces) only where a listener is meant.
func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, " /") || (host == "" && !listen) {
		return errors.New("want host:port")
	}
	lowest := 1
	if listen {
		lowest = 0 // any free port
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < lowest || n > 65535 {
		return fmt.Errorf("port %q is not a number from %d to 65535", port, lowest)
	}
	return nil
}

// Kafka's own rule for topic names.
var topicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func checkTopic(t string) error {
	if !topicRE.MatchString(t) || t == "." || t == ".." {
		return fmt.Errorf("%q is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)", t)
	}
	return nil
}
