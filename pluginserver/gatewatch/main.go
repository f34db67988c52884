// Command gatewatch is the monitor's Kong plugin server: Kong starts it
// (pluginserver_gatewatch_start_cmd), queries it with -dump, and calls its
// log handler for every request the plugin is enabled on. It publishes the
// resulting security events to Kafka.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/geo"
	"github.com/gatewatch/gatewatch/pkg/pluginserver"
	"github.com/gatewatch/gatewatch/pkg/publish"
	"github.com/gatewatch/gatewatch/pkg/spool"
	"github.com/gatewatch/gatewatch/plugins/monitor"
)

func main() {
	rt := &monitor.Runtime{IDs: event.NewIDGen()}
	reg := prometheus.NewRegistry()
	pluginserver.Main(pluginserver.Plugin{
		Name:     monitor.Name,
		Version:  monitor.Version,
		Priority: monitor.Priority,
		New:      monitor.New(rt),
	}, pluginserver.Hooks{
		Registerer: reg,
		Start: func(ctx context.Context, proc *config.Process, logger *slog.Logger) (func(context.Context) error, error) {
			return start(proc, logger, rt, reg)
		},
	})
}

// start builds the process-wide parts: the publisher every instance
// enqueues into, the metrics, and the metrics listener.
func start(proc *config.Process, logger *slog.Logger, rt *monitor.Runtime, reg *prometheus.Registry) (func(context.Context) error, error) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pcfg, err := publisherConfig(proc, logger, reg)
	if err != nil {
		return nil, err
	}
	// Every drop is itself reported, as a gatewatch.dropped event on the
	// events topic (dropped.go says how the count survives lost reports).
	var self atomic.Pointer[publish.Publisher]
	drops := newDropReporter(func(m publish.Message) bool {
		if p := self.Load(); p != nil {
			return p.Enqueue(m)
		}
		return false
	}, rt.IDs, proc.Kafka.Topic)
	pcfg.OnDrop = drops.onDrop
	pub, err := publish.New(pcfg)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	self.Store(pub)
	rt.Publisher = pub
	rt.Topic = proc.Kafka.Topic
	rt.Logger = logger
	rt.Metrics = monitor.NewMetrics(reg)
	if f := proc.Redaction.FingerprintKeyFile; f != "" {
		key, err := os.ReadFile(f)
		if err != nil {
			_ = pub.Close(context.Background())
			return nil, fmt.Errorf("redaction.fingerprint_key_file: %w", err)
		}
		rt.FingerprintKey = []byte(strings.TrimSpace(string(key)))
	}
	engine, err := detect.New(nil)
	if err != nil {
		_ = pub.Close(context.Background())
		return nil, fmt.Errorf("detection rules: %w", err)
	}
	rt.Engine = engine
	var geoDB *geo.Resolver
	if g := proc.GeoIP; g.CityDB != "" || g.ASNDB != "" {
		geoDB, err = geo.Open(g.CityDB, g.ASNDB)
		if err != nil {
			_ = pub.Close(context.Background())
			return nil, fmt.Errorf("geoip: %w", err)
		}
		rt.Geo = geo.EventLookup{R: geoDB}
	}

	var srv *http.Server
	if proc.Metrics.Addr != "" {
		l, err := net.Listen("tcp", proc.Metrics.Addr)
		if err != nil {
			_ = pub.Close(context.Background())
			return nil, fmt.Errorf("metrics.addr %s: %w", proc.Metrics.Addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(l) }()
		logger.Info("metrics listening", "addr", l.Addr().String())
	}

	dropCtx, stopDrops := context.WithCancel(context.Background())
	go drops.run(dropCtx)
	return func(ctx context.Context) error {
		stopDrops()
		var errs []error
		if err := pub.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("publisher: %w", err))
		}
		if srv != nil {
			_ = srv.Shutdown(ctx)
		}
		if geoDB != nil {
			_ = geoDB.Close()
		}
		return errors.Join(errs...)
	}, nil
}

// publisherConfig maps the process settings onto the publisher's.
func publisherConfig(proc *config.Process, logger *slog.Logger, reg prometheus.Registerer) (publish.Config, error) {
	k := proc.Kafka
	password, err := k.SASL.Secret()
	if err != nil {
		return publish.Config{}, err
	}
	return publish.Config{
		Brokers:      k.Brokers,
		Topic:        k.Topic,
		ClientID:     k.ClientID,
		Compression:  k.Compression,
		BatchSize:    k.BatchSize,
		BatchBytes:   int(k.BatchBytes),
		Linger:       k.Linger,
		BufferSize:   k.BufferSize,
		WriteTimeout: k.WriteTimeout,
		CloseTimeout: k.CloseTimeout,
		TLS: publish.TLSConfig{
			Enabled:            k.TLS.Enabled,
			CAFile:             k.TLS.CAFile,
			CertFile:           k.TLS.CertFile,
			KeyFile:            k.TLS.KeyFile,
			ServerName:         k.TLS.ServerName,
			InsecureSkipVerify: k.TLS.InsecureSkipVerify,
		},
		SASL: publish.SASLConfig{
			Mechanism: strings.ToLower(k.SASL.Mechanism),
			Username:  k.SASL.Username,
			Password:  password,
		},
		Spool: spool.Config{
			Dir:           proc.Spool.Dir,
			MaxBytes:      proc.Spool.MaxBytes,
			MaxAge:        proc.Spool.MaxAge,
			Fsync:         proc.Spool.Fsync,
			FsyncInterval: proc.Spool.FsyncInterval,
		},
		Logger:     logger,
		Registerer: reg,
	}, nil
}
