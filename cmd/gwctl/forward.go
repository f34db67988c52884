package main

// gwctl forward syslog: a Kafka consumer group that forwards gatewatch
// events to a syslog collector (RFC 5424 over TCP with RFC 6587
// octet-counting, or over TLS per RFC 5425), for SIEMs that only take
// syslog.
//
// Delivery is at least once. A batch's Kafka offsets are committed only
// after pkg/syslog accepted it: written and flushed, every byte
// acknowledged by the collector's TCP, and the connection still up a
// settle time later. Plain syslog has no application acknowledgement, so a
// collector that crashes after reading but before storing can still lose
// what it read; everything short of that is sent again after a reconnect,
// and collectors de-duplicate by the event id that every message carries in
// its structured data. docs/siem.md says this at length.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode"
	"github.com/gatewatch/gatewatch/pkg/syslog"
)

func init() {
	register(command{
		name:    "forward",
		summary: "forward events to a SIEM collector (forward syslog -h)",
		run:     runForward,
	})
}

func runForward(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "syslog" {
		fmt.Fprintln(stderr, "usage: gwctl forward syslog [flags]  (the only target so far is syslog)")
		return 2
	}
	cfg, err := parseForwardFlags(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gwctl forward syslog: %v\n", err)
		return 2
	}
	st, err := forwardSyslog(ctx, cfg)
	fmt.Fprintf(stdout, "forwarded %d, filtered %d, undecodable %d, reconnects %d\n",
		st.forwarded.Load(), st.filtered.Load(), st.invalid.Load(), st.reconnects.Load())
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "gwctl forward syslog: %v\n", err)
		return 1
	}
	return 0
}

// forwardConfig is the parsed command line.
type forwardConfig struct {
	brokers     []string
	topic       string
	group       string
	addr        string
	tls         *tls.Config
	format      string
	encoder     encode.Encoder // nil for the "sd" format
	types       map[event.Type]bool
	minSeverity int
	msgOpts     syslog.EventOptions
	maxSize     int
	batch       int
	settle      time.Duration
	fromLatest  bool
	logf        func(string, ...any)
}

func parseForwardFlags(args []string, stderr io.Writer) (*forwardConfig, error) {
	fs := flag.NewFlagSet("gwctl forward syslog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic", "gatewatch.events", "events topic to read")
	group := fs.String("group", "gatewatch-forward-syslog", "Kafka consumer group; run several forwarders in one group to share partitions")
	addr := fs.String("addr", "", "collector host:port (required)")
	useTLS := fs.Bool("tls", false, "use TLS (RFC 5425) with the system's roots; implied by any -tls-* flag")
	ca := fs.String("tls-ca", "", "PEM file of CAs that sign the collector's certificate (default: system roots)")
	cert := fs.String("tls-cert", "", "PEM client certificate, for collectors that authenticate senders")
	key := fs.String("tls-key", "", "PEM key of -tls-cert")
	serverName := fs.String("tls-server-name", "", "name to verify in the collector's certificate (default: the -addr host)")
	format := fs.String("format", "sd", "MSG format: sd (fields as RFC 5424 structured data, summary in MSG), cef, native, ocsf or ecs")
	types := fs.String("types", "", "comma-separated event types to forward (default: all)")
	minSev := fs.String("min-severity", "info", "forward events at least this severe: info, low, medium, high, critical")
	facility := fs.String("facility", "local0", "syslog facility name")
	hostname := fs.String("hostname", "", "HOSTNAME field (default: this machine's name)")
	appName := fs.String("app-name", "gatewatch", "APP-NAME field")
	sdID := fs.String("sd-id", syslog.DefaultSDID, "structured-data element id (name@your-enterprise-number)")
	maxSize := fs.Int("max-size", syslog.DefaultMaxSize, "largest message in bytes; longer MSGs are cut (match the collector's maxMessageSize)")
	batch := fs.Int("batch", 500, "most events per write")
	settle := fs.Duration("settle", time.Second, "how long a written batch must stay on a healthy connection before its offsets are committed")
	reset := fs.String("reset", "earliest", "where a group without committed offsets starts: earliest (everything retained) or latest (only new events)")
	quiet := fs.Bool("quiet", false, "do not log connection changes")
	version := fs.String("product-version", "dev", "gatewatch version written into CEF/OCSF/ECS product fields")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &forwardConfig{brokers: forwardList(*brokers), topic: *topic, group: *group, addr: *addr,
		format: *format, maxSize: *maxSize, batch: *batch, settle: *settle}
	if c.addr == "" {
		return nil, errors.New("-addr: the collector's host:port is required")
	}
	if len(c.brokers) == 0 {
		return nil, errors.New("-brokers: at least one broker is required")
	}
	if c.group == "" || c.topic == "" {
		return nil, errors.New("-group and -topic must not be empty")
	}
	if c.batch <= 0 || c.maxSize < 480 || c.settle < 0 {
		return nil, errors.New("-batch must be positive, -max-size at least 480 (RFC 5424's minimum), -settle not negative")
	}
	switch *reset {
	case "earliest":
	case "latest":
		c.fromLatest = true
	default:
		return nil, fmt.Errorf("-reset: %q is neither earliest nor latest", *reset)
	}
	if c.format != "sd" {
		enc, err := encode.New(c.format, encode.Options{ProductVersion: *version})
		if err != nil {
			return nil, fmt.Errorf("-format: %w", err)
		}
		c.encoder = enc
	}
	if *types != "" {
		c.types = map[event.Type]bool{}
		for _, t := range forwardList(*types) {
			if !slices.Contains(event.Types, event.Type(t)) {
				return nil, fmt.Errorf("-types: unknown event type %q", t)
			}
			c.types[event.Type(t)] = true
		}
	}
	sev, ok := event.ParseSeverity(*minSev)
	if !ok {
		return nil, fmt.Errorf("-min-severity: unknown severity %q", *minSev)
	}
	c.minSeverity = sev.Rank()
	fac, ok := syslog.Facilities[*facility]
	if !ok {
		return nil, fmt.Errorf("-facility: unknown facility %q", *facility)
	}
	if *hostname == "" {
		*hostname, _ = os.Hostname()
	}
	c.msgOpts = syslog.EventOptions{Facility: fac, Hostname: *hostname, AppName: *appName, SDID: *sdID}
	if *useTLS || *ca != "" || *cert != "" || *key != "" || *serverName != "" {
		tc, err := forwardTLS(*ca, *cert, *key, *serverName)
		if err != nil {
			return nil, err
		}
		c.tls = tc
	}
	c.logf = func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	if *quiet {
		c.logf = func(string, ...any) {}
	}
	return c, nil
}

func forwardTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca: %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func forwardList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type forwardStats struct {
	forwarded, filtered, invalid, reconnects atomic.Int64
}

// forwardSyslog runs until ctx ends. On the way out it waits briefly for
// outstanding batches to be accepted and commits them.
func forwardSyslog(ctx context.Context, c *forwardConfig) (*forwardStats, error) {
	st := &forwardStats{}
	// A rebalance moves partitions to other members, who start from the
	// last commit; batches read before it must not commit afterwards, or
	// they could move a new owner's offsets backwards.
	var assignGen atomic.Int64
	onChange := func(context.Context, *kgo.Client, map[string][]int32) { assignGen.Add(1) }
	start := kgo.NewOffset().AtStart()
	if c.fromLatest {
		start = kgo.NewOffset().AtEnd()
	}
	kc, err := kgo.NewClient(
		kgo.SeedBrokers(c.brokers...),
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(start),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.OnPartitionsRevoked(onChange),
		kgo.OnPartitionsLost(onChange),
	)
	if err != nil {
		return st, fmt.Errorf("kafka client: %w", err)
	}
	defer kc.Close()
	sc, err := syslog.NewClient(syslog.Config{Addr: c.addr, TLS: c.tls, Settle: c.settle, Logf: c.logf})
	if err != nil {
		return st, err
	}
	defer sc.Close()
	defer func() { st.reconnects.Store(sc.Reconnects.Load()) }()

	type token struct {
		gen     int64
		records []*kgo.Record
	}
	commit := func(ctx context.Context, toks []any) {
		var recs []*kgo.Record
		for _, t := range toks {
			if tk := t.(token); tk.gen == assignGen.Load() {
				recs = append(recs, tk.records...)
			}
		}
		if len(recs) == 0 {
			return
		}
		if err := kc.CommitRecords(ctx, recs...); err != nil {
			// Not fatal: the next commit covers these offsets, and if there
			// is none the records are read and sent again.
			c.logf("gwctl forward syslog: commit: %v", err)
		}
	}

	var frames, msgBuf, payload []byte
	for ctx.Err() == nil {
		// Read before polling: a rebalance during the poll must disqualify
		// what it returned.
		gen := assignGen.Load()
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fetches := kc.PollRecords(pctx, c.batch)
		cancel()
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.logf("gwctl forward syslog: fetch %s/%d: %v", topic, p, err)
			}
		})
		recs := fetches.Records()
		if len(recs) > 0 {
			frames = nil // the client keeps each batch until it is accepted
			for _, r := range recs {
				var ev event.Event
				if err := json.Unmarshal(r.Value, &ev); err != nil {
					st.invalid.Add(1)
					c.logf("gwctl forward syslog: %s/%d@%d: not an event, skipped: %v", r.Topic, r.Partition, r.Offset, err)
					continue
				}
				if !c.wants(&ev) {
					st.filtered.Add(1)
					continue
				}
				var p []byte
				if c.encoder != nil {
					if payload, err = c.encoder.Append(payload[:0], &ev); err != nil {
						st.invalid.Add(1)
						c.logf("gwctl forward syslog: event %s: %v", ev.ID, err)
						continue
					}
					p = payload
				}
				m := syslog.EventMessage(&ev, p, c.msgOpts)
				if msgBuf, err = syslog.Append(msgBuf[:0], &m, c.maxSize); err != nil {
					return st, fmt.Errorf("event %s: %w", ev.ID, err)
				}
				frames = syslog.AppendFrame(frames, msgBuf)
				st.forwarded.Add(1)
			}
			if err := sc.Send(ctx, frames, token{gen, recs}); err != nil {
				break
			}
		}
		acc, err := sc.Accepted(ctx)
		commit(ctx, acc)
		if err != nil {
			break
		}
	}
	// Shutting down: give outstanding batches a moment to be accepted so
	// that a clean stop does not resend them.
	dctx, cancel := context.WithTimeout(context.Background(), c.settle+2*time.Second)
	defer cancel()
	acc, _ := sc.Drain(dctx)
	commit(dctx, acc)
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	return st, nil
}

func (c *forwardConfig) wants(ev *event.Event) bool {
	if c.types != nil && !c.types[ev.Type] {
		return false
	}
	return ev.Severity.Rank() >= c.minSeverity
}
