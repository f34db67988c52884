package main

// gwctl tail reads the events topic from a point in time and prints the
// events that pass its filters: type, minimum severity, client IP or
// network, consumer, route. Without -f it stops at the end of the topic as
// it was when it started, so it composes in scripts and runbooks
// (`gwctl tail -since 1h -type auth.failure -json | jq …`); with -f it
// keeps following.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kafkaoffsets"
)

func init() {
	register(command{
		name:    "tail",
		summary: "print events from the events topic, filtered (type, severity, ip, consumer, route, -since)",
		run:     runTail,
	})
}

// tailFilter is the pure part of tail: whether one event is wanted.
type tailFilter struct {
	types    map[event.Type]bool // nil: all
	minRank  int
	ip       netip.Prefix // !IsValid(): any
	consumer string       // username or id; "" any
	route    string       // name or id; "" any
	since    time.Time
	until    time.Time // zero: no end
}

func (f *tailFilter) match(e *event.Event) bool {
	if f.types != nil && !f.types[e.Type] {
		return false
	}
	if e.Severity.Rank() < f.minRank {
		return false
	}
	if f.ip.IsValid() {
		a, err := netip.ParseAddr(e.Client.IP)
		if err != nil || !f.ip.Contains(a.Unmap()) {
			return false
		}
	}
	if f.consumer != "" && f.consumer != e.Client.Consumer.Username && f.consumer != e.Client.Consumer.ID {
		return false
	}
	if f.route != "" && f.route != e.Kong.Route.Name && f.route != e.Kong.Route.ID {
		return false
	}
	if e.Time.Before(f.since) || !f.until.IsZero() && !e.Time.Before(f.until) {
		return false
	}
	return true
}

type tailConfig struct {
	brokers []string
	topic   string
	filter  tailFilter
	follow  bool
	limit   int
	json    bool
}

// parseWhen reads "15m" (that long before now) or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (15m, 2h) nor an RFC 3339 time", s)
	}
	return t, nil
}

func parseTailFlags(args []string, stderr io.Writer, now time.Time) (*tailConfig, error) {
	fs := flag.NewFlagSet("gwctl tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic", "gatewatch.events", "events topic")
	types := fs.String("type", "", "comma-separated event types (default: all)")
	sev := fs.String("severity", "info", "minimum severity: info, low, medium, high, critical")
	ip := fs.String("ip", "", "client IP or CIDR network")
	consumer := fs.String("consumer", "", "Kong consumer username or id")
	route := fs.String("route", "", "Kong route name or id")
	since := fs.String("since", "1h", "start: a duration before now (15m) or an RFC 3339 time")
	until := fs.String("until", "", "end (exclusive): a duration before now or an RFC 3339 time (default: none)")
	follow := fs.Bool("f", false, "keep following new events (default: stop at the end of the topic)")
	limit := fs.Int("n", 0, "stop after this many matching events (0: no limit)")
	asJSON := fs.Bool("json", false, "print each event's JSON as published (one per line) instead of a summary")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &tailConfig{topic: *topic, follow: *follow, limit: *limit, json: *asJSON}
	c.brokers = forwardList(*brokers)
	if len(c.brokers) == 0 {
		return nil, errors.New("-brokers: at least one broker is required")
	}
	if c.topic == "" {
		return nil, errors.New("-topic: must not be empty")
	}
	if c.limit < 0 {
		return nil, errors.New("-n: must not be negative")
	}
	f := &c.filter
	if *types != "" {
		f.types = map[event.Type]bool{}
		for _, t := range strings.Split(*types, ",") {
			t = strings.TrimSpace(t)
			known := false
			for _, k := range event.Types {
				known = known || string(k) == t
			}
			if !known {
				return nil, fmt.Errorf("-type: %q is not an event type (docs/events.md)", t)
			}
			f.types[event.Type(t)] = true
		}
	}
	s, ok := event.ParseSeverity(*sev)
	if !ok {
		return nil, fmt.Errorf("-severity: %q is not one of info, low, medium, high, critical", *sev)
	}
	f.minRank = s.Rank()
	if *ip != "" {
		if strings.Contains(*ip, "/") {
			p, err := netip.ParsePrefix(*ip)
			if err != nil {
				return nil, fmt.Errorf("-ip: %w", err)
			}
			f.ip = p.Masked()
		} else {
			a, err := netip.ParseAddr(*ip)
			if err != nil {
				return nil, fmt.Errorf("-ip: %w", err)
			}
			a = a.Unmap()
			f.ip = netip.PrefixFrom(a, a.BitLen())
		}
	}
	f.consumer, f.route = *consumer, *route
	var err error
	if f.since, err = parseWhen(*since, now); err != nil {
		return nil, fmt.Errorf("-since: %w", err)
	}
	if *until != "" {
		if f.until, err = parseWhen(*until, now); err != nil {
			return nil, fmt.Errorf("-until: %w", err)
		}
	}
	return c, nil
}

func runTail(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c, err := parseTailFlags(args, stderr, time.Now())
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gwctl tail: %v\n", err)
		return 2
	}
	if err := tail(ctx, c, stdout, stderr); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "gwctl tail: %v\n", err)
		return 1
	}
	return 0
}

func tail(ctx context.Context, c *tailConfig, stdout, stderr io.Writer) error {
	meta, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer meta.Close()
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	end, err := kafkaoffsets.List(qctx, meta, c.topic, kafkaoffsets.End)
	if err != nil {
		return err
	}
	// Kafka's timestamps are the producer's enqueue times, a little after
	// the events' own; starting a minute early and filtering on the event
	// time loses nothing.
	start, err := kafkaoffsets.List(qctx, meta, c.topic, c.filter.since.Add(-time.Minute).UnixMilli())
	if err != nil {
		return err
	}
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]int64{} // partitions still to read to their end
	for p, e := range end {
		s, ok := start[p]
		if !ok || s < 0 || s > e {
			s = e
		}
		offsets[p] = kgo.NewOffset().At(s)
		if s < e {
			pending[p] = e
		}
	}
	if !c.follow && len(pending) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: offsets}))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	matched, undecodable := 0, 0
	for c.follow || len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var werr error
		fs.EachRecord(func(r *kgo.Record) {
			if e, ok := pending[r.Partition]; ok && r.Offset >= e-1 {
				delete(pending, r.Partition)
			}
			if werr != nil || c.limit > 0 && matched >= c.limit {
				return
			}
			var ev event.Event
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				undecodable++
				return
			}
			if !c.filter.match(&ev) {
				return
			}
			matched++
			if c.json {
				_, werr = stdout.Write(append(append([]byte(nil), r.Value...), '\n'))
			} else {
				_, werr = io.WriteString(stdout, summary(&ev)+"\n")
			}
		})
		if werr != nil {
			return fmt.Errorf("write: %w", werr)
		}
		if c.limit > 0 && matched >= c.limit {
			break
		}
	}
	if undecodable > 0 {
		fmt.Fprintf(stderr, "gwctl tail: %d records were not gatewatch events\n", undecodable)
	}
	return nil
}

// summary is the one-line human form of an event.
func summary(e *event.Event) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, " %-8s %-17s", e.Severity, e.Type)
	if e.Client.IP != "" {
		b.WriteString(" ip=" + e.Client.IP)
	}
	if c := e.Client.Consumer.Username; c != "" {
		b.WriteString(" consumer=" + c)
	} else if e.Client.Consumer.ID != "" {
		b.WriteString(" consumer=" + e.Client.Consumer.ID)
	}
	if r := e.Kong.Route.Name; r != "" {
		b.WriteString(" route=" + r)
	}
	if e.Request.Method != "" || e.Request.Path != "" {
		b.WriteString(" " + e.Request.Method + " " + strconv.Quote(e.Request.Path))
	}
	if e.Response.Status != 0 {
		b.WriteString(" status=" + strconv.Itoa(e.Response.Status))
	}
	d := &e.Detail
	for _, kv := range [][2]string{{"reason", d.Reason}, {"control", d.Control}, {"action", d.Action},
		{"category", d.Category}, {"component", d.Component}} {
		if kv[1] != "" {
			b.WriteString(" " + kv[0] + "=" + kv[1])
		}
	}
	for _, f := range d.Findings {
		b.WriteString(" rule=" + f.RuleID)
	}
	if d.Count > 1 {
		b.WriteString(" count=" + strconv.Itoa(d.Count))
	}
	if d.Message != "" {
		b.WriteString(" " + strconv.Quote(d.Message))
	}
	return b.String()
}
