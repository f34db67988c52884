// Command kongsim runs the Kong 3.x stand-in as a standalone gateway:
//
//	kongsim -conf kong.conf -declarative kong.yml [-listen 127.0.0.1:8000] [-kong-version 3.9] [-prefix DIR]
//
// It proxies until SIGINT or SIGTERM, then stops the plugin servers and
// prints the PDK statistics per plugin and phase.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewatch/gatewatch/integration/kongsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kongsim:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kongsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	confPath := fs.String("conf", "", "kong.conf with plugins and pluginserver_* properties")
	declarative := fs.String("declarative", "", "declarative kong.yml (default: the conf's declarative_config)")
	listen := fs.String("listen", "", "proxy listen address (default: the conf's proxy_listen host:port, else 127.0.0.1:8000)")
	version := fs.String("kong-version", "3.9", "Kong version to model (3.4 … 3.10)")
	prefix := fs.String("prefix", "", "Kong prefix directory for plugin-server sockets (default: the conf's prefix, else /usr/local/kong)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conf := map[string]string{}
	if *confPath != "" {
		f, err := os.Open(*confPath)
		if err != nil {
			return err
		}
		conf, err = kongsim.ParseKongConf(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if *declarative == "" {
		*declarative = conf["declarative_config"]
	}
	if *prefix == "" {
		*prefix = conf["prefix"]
	}
	if *prefix == "" {
		*prefix = "/usr/local/kong"
	}
	if *listen == "" {
		if pl := strings.Fields(conf["proxy_listen"]); len(pl) > 0 {
			*listen = strings.TrimSuffix(pl[0], ",")
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	gw, err := kongsim.Start(startCtx, kongsim.Options{
		KongVersion:     *version,
		Prefix:          *prefix,
		ProxyListen:     *listen,
		DeclarativeFile: *declarative,
		Conf:            conf,
		Stderr:          stderr,
	})
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kongsim (Kong %s) proxy on %s\n", *version, gw.URL())
	<-ctx.Done()
	closeErr := gw.Close()
	printStats(stdout, gw.Stats())
	return closeErr
}

func printStats(w io.Writer, s kongsim.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "requests\t%d\n", len(s.Requests))
	fmt.Fprintln(tw, "plugin\tphase\tevents\tpdk calls\tcalls/event\trpc time/event\tmethods")
	for _, p := range s.Phases {
		per, perCalls := time.Duration(0), 0.0
		if p.Events > 0 {
			per = p.RPCTime / time.Duration(p.Events)
			perCalls = float64(p.PDKCalls) / float64(p.Events)
		}
		var ms []string
		for m, n := range p.Methods {
			ms = append(ms, fmt.Sprintf("%s=%d", m, n))
		}
		sort.Strings(ms)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%s\t%s\n", p.Plugin, p.Phase, p.Events, p.PDKCalls, perCalls, per, strings.Join(ms, " "))
	}
	tw.Flush()
}
