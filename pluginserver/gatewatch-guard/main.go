// Command gatewatch-guard is the plugin server Kong starts for the
// gatewatch-guard plugin (access phase): `gatewatch-guard -dump` for Kong's
// query command, `gatewatch-guard -kong-prefix DIR [-config FILE]` to serve
// DIR/gatewatch-guard.socket.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	pluginserver.Main(pluginserver.Plugin{
		Name:     guard.Name,
		Version:  guard.Version,
		Priority: guard.Priority,
		New:      guard.New,
	}, pluginserver.Hooks{
		Start: func(ctx context.Context, proc *config.Process, logger *slog.Logger) (func(context.Context) error, error) {
			return serveMetrics(proc, reg, logger)
		},
		Registerer: reg,
	})
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
