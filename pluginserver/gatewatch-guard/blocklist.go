package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/plugins/guard"
)

// startBlocklist makes rt enforce the blocklist: followed from Kafka when
// brokers are configured, else the snapshot alone (a gateway cut off from
// Kafka by design still enforces what was last copied to it). A snapshot
// that cannot be read is logged and skipped rather than fatal: refusing to
// start would take every guarded route down with it.
func startBlocklist(proc *config.Process, rt *guard.Runtime, reg prometheus.Registerer, logger *slog.Logger) (func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	snapshot := proc.Blocklist.SnapshotFile
	if len(proc.Kafka.Brokers) == 0 {
		if snapshot == "" {
			logger.Info("blocklist disabled: no kafka.brokers and no blocklist.snapshot_file")
			return noop, nil
		}
		entries, ok, err := blocklist.LoadSnapshot(snapshot, proc.Blocklist.Topic)
		if err != nil {
			logger.Error("blocklist snapshot unreadable; not enforcing it", "err", err)
			return noop, nil
		}
		l := blocklist.NewList()
		if err := l.Replace(entries); err != nil {
			logger.Error("blocklist snapshot invalid; not enforcing it", "err", err)
			return noop, nil
		}
		rt.SetBlocklist(l)
		logger.Info("blocklist from snapshot only (no kafka.brokers)", "file", snapshot, "found", ok, "entries", len(entries))
		return noop, nil
	}

	opts, err := kafkaOpts(proc.Kafka)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	cfg := blocklist.Config{
		Brokers:      proc.Kafka.Brokers,
		Topic:        proc.Blocklist.Topic,
		SnapshotPath: snapshot,
		OnError:      throttledLog(logger, 30*time.Second),
		ClientOpts:   opts,
	}
	f, err := blocklist.NewFollower(cfg)
	if err != nil && snapshot != "" {
		logger.Error("blocklist snapshot unreadable; starting from the topic alone", "err", err)
		cfg.SnapshotPath = ""
		f, err = blocklist.NewFollower(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	if err := registerFollower(reg, f); err != nil {
		return nil, err
	}
	rt.SetBlocklist(f.List())
	logger.Info("following the blocklist", "topic", cfg.Topic, "snapshot", snapshot, "entries", f.List().Matcher().Len())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	go func() {
		select {
		case <-f.Ready():
			logger.Info("blocklist caught up with the topic", "entries", f.List().Matcher().Len())
		case <-ctx.Done():
		}
	}()
	// The follower keeps running through the drain, so requests still in
	// flight are checked against the live list; it stops (and saves its
	// snapshot) last.
	return func(sctx context.Context) error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-sctx.Done():
			return fmt.Errorf("blocklist: follower did not stop: %w", sctx.Err())
		}
	}, nil
}

// throttledLog reports follower errors without flooding the log while the
// brokers are away (the follower retries every 250 ms): the first error,
// then at most one per interval with a count of those skipped.
func throttledLog(logger *slog.Logger, every time.Duration) func(error) {
	var mu sync.Mutex
	var last time.Time
	skipped := 0
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= every {
			logger.Warn("blocklist", "err", err, "suppressed", skipped)
			last, skipped = now, 0
			return
		}
		skipped++
	}
}

func registerFollower(reg prometheus.Registerer, f *blocklist.Follower) error {
	counters := []struct {
		name, help string
		read       func(blocklist.Stats) int64
	}{
		{"gatewatch_guard_blocklist_records_total", "Blocklist records applied (entries and removals).", func(s blocklist.Stats) int64 { return s.Records }},
		{"gatewatch_guard_blocklist_rejected_total", "Blocklist records that did not decode and were skipped.", func(s blocklist.Stats) int64 { return s.Rejected }},
		{"gatewatch_guard_blocklist_fetch_errors_total", "Errors fetching the blocklist topic (the last known list stays enforced).", func(s blocklist.Stats) int64 { return s.FetchErrors }},
		{"gatewatch_guard_blocklist_snapshot_errors_total", "Failed writes of the blocklist snapshot file.", func(s blocklist.Stats) int64 { return s.SnapshotErrs }},
	}
	for _, c := range counters {
		read := c.read
		if err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(read(f.Stats())) })); err != nil {
			return fmt.Errorf("blocklist: registering %s: %w", c.name, err)
		}
	}
	err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatewatch_guard_blocklist_ready",
		Help: "1 once the follower has read the blocklist topic up to where it stood at start.",
	}, func() float64 {
		select {
		case <-f.Ready():
			return 1
		default:
			return 0
		}
	}))
	if err != nil {
		return fmt.Errorf("blocklist: registering gatewatch_guard_blocklist_ready: %w", err)
	}
	return nil
}

// kafkaOpts maps the process's TLS and SASL settings onto franz-go options.
func kafkaOpts(k config.Kafka) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if k.ClientID != "" {
		opts = append(opts, kgo.ClientID(k.ClientID+"-guard"))
	}
	if k.TLS.Enabled {
		tc := &tls.Config{ServerName: k.TLS.ServerName, InsecureSkipVerify: k.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // the operator's explicit choice
		if k.TLS.CAFile != "" {
			pem, err := os.ReadFile(k.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate in it", k.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if k.TLS.CertFile != "" || k.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(k.TLS.CertFile, k.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if k.SASL.Mechanism != "" {
		password, err := k.SASL.Secret()
		if err != nil {
			return nil, err
		}
		switch strings.ToUpper(k.SASL.Mechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: k.SASL.Username, Pass: password}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.Username, Pass: password}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.SASL.Username, Pass: password}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASL.Mechanism)
		}
	}
	return opts, nil
}
