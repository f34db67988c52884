// Command gatewatch-guard is the plugin server Kong starts for the
// gatewatch-guard plugin (access phase): `gatewatch-guard -dump` for Kong's
// query command, `gatewatch-guard -kong-prefix DIR [-config FILE]` to serve
// DIR/gatewatch-guard.socket.
//
// Besides the plugin it runs the process-wide parts every route shares: the
// detection engine (compiled once), the blocklist follower (the
// gatewatch.blocklist topic, read from the beginning with no consumer
// group, persisted to blocklist.snapshot_file) and the metrics listener.
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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewatch/gatewatch/pkg/config"
	"github.com/gatewatch/gatewatch/pkg/pluginserver"
	"github.com/gatewatch/gatewatch/plugins/guard"
)

func main() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	engine, engineErr := guard.NewEngine()
	rt := guard.NewRuntime(engine, nil)
	pluginserver.Main(pluginserver.Plugin{
		Name:     guard.Name,
		Version:  guard.Version,
		Priority: guard.Priority,
		New:      rt.New,
	}, pluginserver.Hooks{
		Start: func(ctx context.Context, proc *config.Process, logger *slog.Logger) (func(context.Context) error, error) {
			return start(proc, rt, engineErr, reg, logger)
		},
		Registerer: reg,
	})
}

// start wires the runtime to the process settings. A detection engine
// that did not compile leaves the guard enforcing the blocklist only
// (fail-open, loudly logged) rather than refusing to start, which would
// make Kong answer 500 on every guarded route.
func start(proc *config.Process, rt *guard.Runtime, engineErr error, reg *prometheus.Registry, logger *slog.Logger) (func(context.Context) error, error) {
	rt.SetLogger(logger)
	if engineErr != nil {
		logger.Error("signature detection disabled; only the blocklist is enforced", "err", engineErr)
	}
	if f := proc.Redaction.FingerprintKeyFile; f != "" {
		key, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("redaction.fingerprint_key_file: %w", err)
		}
		rt.SetFingerprintKey([]byte(strings.TrimSpace(string(key))))
	}
	if err := rt.Register(reg); err != nil {
		return nil, err
	}
	stopBlocklist, err := startBlocklist(proc, rt, reg, logger)
	if err != nil {
		return nil, err
	}
	stopMetrics, err := serveMetrics(proc, reg, logger)
	if err != nil {
		_ = stopBlocklist(context.Background())
		return nil, err
	}
	return func(ctx context.Context) error {
		var errs []error
		if stopMetrics != nil {
			errs = append(errs, stopMetrics(ctx))
		}
		errs = append(errs, stopBlocklist(ctx))
		return errors.Join(errs...)
	}, nil
}

// serveMetrics exposes reg on metrics.addr when one is configured.
func serveMetrics(proc *config.Process, reg *prometheus.Registry, logger *slog.Logger) (func(context.Context) error, error) {
	if proc.Metrics.Addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", proc.Metrics.Addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", l.Addr().String())
	return srv.Shutdown, nil
}
