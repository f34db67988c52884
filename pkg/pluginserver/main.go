package pluginserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gatewatch/gatewatch/pkg/config"
)

// DefaultKongPrefix is Kong's default prefix, as in go-pdk.
const DefaultKongPrefix = "/usr/local/kong"

// stopTimeout bounds the Start hook's stop function (flushing queues to
// Kafka or the spool). Kong does not wait for the process, so this only
// keeps a wedged broker from holding the process forever.
const stopTimeout = 30 * time.Second

// Exit codes of Main.
const (
	exitOK     = 0
	exitFailed = 1 // bad config, cannot listen, start hook failed
	exitUsage  = 2 // bad command line
)

// Main is the whole main of a plugin-server binary: flags -dump,
// -kong-prefix DIR, -config FILE, -help; process settings from the file and
// the environment; the Start hook; the socket <prefix>/<name>.socket until
// SIGTERM or SIGINT. It exits non-zero with a message on stderr when
// something is wrong before serving.
func Main(p Plugin, h Hooks) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process the default way
	}()
	os.Exit(run(ctx, os.Args[1:], p, h, os.Stdout, os.Stderr, os.Getenv))
}

// run is Main without the process: tests drive it with their own context,
// arguments, output and environment.
func run(ctx context.Context, args []string, p Plugin, h Hooks, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dump := fs.Bool("dump", false, "print the plugin information Kong reads (JSON) and exit")
	prefix := fs.String("kong-prefix", DefaultKongPrefix, "Kong prefix directory; the socket is `DIR`/"+p.Name+".socket")
	cfgPath := fs.String("config", "", "process settings `FILE` (YAML); GATEWATCH_* variables override it")
	help := fs.Bool("help", false, "show this help")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-dump] [-kong-prefix DIR] [-config FILE]\n\nKong plugin server for the %s plugin (protocol %s).\n\n", p.Name, p.Name, Protocol)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nenvironment: %s, %s, %s, %s\n", config.EnvKafkaBrokers, config.EnvKafkaTopic, config.EnvSpoolDir, config.EnvMetricsAddr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *help {
		fs.Usage()
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", p.Name, fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *dump {
		out, err := Dump(p)
		if err != nil {
			fmt.Fprintf(stderr, "%s: -dump: %v\n", p.Name, err)
			return exitFailed
		}
		if _, err := stdout.Write(append(out, '\n')); err != nil {
			return exitFailed
		}
		return exitOK
	}

	// Refuse a broken plugin before anything else starts.
	if _, err := Dump(p); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return exitFailed
	}
	proc, err := config.Load(*cfgPath, env)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return exitFailed
	}
	logger := newLogger(stderr, proc.Log.Level).With("plugin", p.Name)
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) != p.Name {
		// Kong's defaults derive the socket from the server name, which is
		// normally the binary name; a renamed binary needs an explicit
		// pluginserver_<name>_socket.
		logger.Warn("binary name differs from plugin name", "binary", filepath.Base(exe), "socket", p.Name+".socket")
	}
	logger.Info("starting", "version", p.Version, "settings", proc.String())

	stopHook := func(context.Context) error { return nil }
	if h.Start != nil {
		s, err := h.Start(ctx, proc, logger)
		if err != nil {
			fmt.Fprintf(stderr, "%s: start: %v\n", p.Name, err)
			return exitFailed
		}
		if s != nil {
			stopHook = s
		}
	}
	runStop := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		return stopHook(sctx)
	}

	socket := filepath.Join(*prefix, p.Name+".socket")
	l, err := Listen(socket)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		if err := runStop(); err != nil {
			logger.Error("stop hook", "err", err)
		}
		return exitFailed
	}
	logger.Info("listening", "socket", socket)

	code := exitOK
	err = Serve(ctx, l, p, ServeOptions{Logger: logger, Registerer: h.Registerer})
	switch {
	case errors.Is(err, ErrDrainTimeout):
		logger.Warn("shutdown", "err", err) // still a clean stop for Kong
	case err != nil:
		logger.Error("serving", "err", err)
		code = exitFailed
	}
	_ = l.Close() // removes the socket file if Serve did not already
	if err := runStop(); err != nil {
		logger.Error("stop hook", "err", err)
		code = exitFailed
	}
	logger.Info("stopped")
	return code
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
