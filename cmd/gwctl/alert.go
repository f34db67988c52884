package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/alert/consumer"
	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	register(command{name: "alert", summary: "turn the events topic into alerts, notifications and blocks", run: runAlert})
}

// alertOpts are gwctl alert's flags; tests set extra Kafka options.
type alertOpts struct {
	extra []kgo.Opt
	ready func(*consumer.Consumer)
}

func runAlert(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runAlertWith(ctx, args, stdout, stderr, alertOpts{})
}

func runAlertWith(ctx context.Context, args []string, stdout, stderr io.Writer, o alertOpts) int {
	fs := flag.NewFlagSet("gwctl alert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rules := fs.String("rules", "kong-conf/alert-rules.yaml", "rule file (docs/alerting.md)")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	group := fs.String("group", "gatewatch-alert", "consumer group; instances in one group split partitions")
	topic := fs.String("topic", "gatewatch.events", "events topic")
	blocklist := fs.String("blocklist-topic", "gatewatch.blocklist", "compacted blocklist topic the guards consume")
	fromStart := fs.Bool("from-start", false, "a new consumer group starts at the oldest retained event instead of the newest")
	check := fs.Bool("check", false, "validate the rule file and receivers, print a summary and exit")
	tick := fs.Duration("tick", 250*time.Millisecond, "how often time advances when no events arrive")
	verbose := fs.Bool("v", false, "log at debug level")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gwctl alert [flags]\n\nConsumes security events, evaluates the alert rules, notifies receivers and writes blocks.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	rs, err := alert.Load(*rules)
	if err != nil {
		fmt.Fprintf(stderr, "gwctl alert: %v\n", err)
		return 2
	}
	httpClient := &http.Client{Timeout: 15 * time.Second}
	build := func(p *kgo.Client) ([]notify.Receiver, error) {
		return consumer.BuildReceivers(rs, p, httpClient, time.Now)
	}
	if *check {
		// Building the receivers resolves their secrets, so -check also
		// catches a missing routing key; the nil producer is never used.
		if _, err := consumer.BuildReceivers(rs, nil, httpClient, time.Now); err != nil {
			fmt.Fprintf(stderr, "gwctl alert: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "%s: %d rules, %d receivers: ok\n", *rules, len(rs.Rules), len(rs.Receivers))
		for _, r := range rs.Rules {
			fmt.Fprintf(stdout, "  %-30s %-8s window %-6s group_by %s\n", r.Name, r.Severity, r.Window, strings.Join(r.GroupBy, ","))
		}
		return 0
	}
	cfg := consumer.Config{
		Brokers: strings.Split(*brokers, ","), Group: *group, EventsTopic: *topic, BlocklistTopic: *blocklist,
		FromStart: *fromStart, Tick: *tick, ExtraOpts: o.extra, Log: log,
	}
	c, err := consumer.New(cfg, rs, build)
	if err != nil {
		fmt.Fprintf(stderr, "gwctl alert: %v\n", err)
		return 2
	}
	log.Info("gwctl alert running", "rules", len(rs.Rules), "receivers", len(rs.Receivers), "group", *group, "topic", *topic)
	if o.ready != nil {
		o.ready(c)
	}
	if err := c.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "gwctl alert: %v\n", err)
		return 1
	}
	return 0
}
