package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

func init() {
	register(command{name: "block", summary: "add, remove or list blocklist entries every guard enforces", run: runBlock})
}

const blockUsage = `usage: gwctl block add <target> [--ttl 1h] [--reason TEXT] [--status 403] [--message TEXT] [flags]
       gwctl block remove <target> [flags]
       gwctl block list [--json] [flags]

<target> is an IP address (203.0.113.7, 2001:db8::7), a network (203.0.113.0/24),
consumer:<id> or apikey-fp:<fingerprint>. Every gatewatch-guard enforces a change
within a second; an entry stops matching at the end of its TTL by itself.
Flags may come before or after the target.

flags:`

// blockFlags are the flags of every block subcommand; each uses what
// applies to it and the others are harmless.
type blockFlags struct {
	fs      *flag.FlagSet
	brokers *string
	topic   *string
	timeout *time.Duration
	ttl     *time.Duration
	reason  *string
	status  *int
	message *string
	by      *string
	json    *bool
}

func newBlockFlags(name string, stderr io.Writer) blockFlags {
	fs := flag.NewFlagSet("gwctl block "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := blockFlags{
		fs:      fs,
		brokers: fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated"),
		topic:   fs.String("topic", blocklist.DefaultTopic, "compacted blocklist topic"),
		timeout: fs.Duration("timeout", 10*time.Second, "how long to wait for Kafka"),
	}
	switch name {
	case "add":
		f.ttl = fs.Duration("ttl", time.Hour, "how long the block lasts (Go duration: 90s, 2m, 12h)")
		f.reason = fs.String("reason", "", "why: shown in the guard's access.denied events and in gwctl block list")
		f.status = fs.Int("status", blocklist.DefaultStatus, "HTTP status blocked requests get (400-599)")
		f.message = fs.String("message", "", "short message in the blocked response body (default: the guard's)")
		f.by = fs.String("by", blockDefaultAuthor(), "who decided it (created_by)")
	case "list":
		f.json = fs.Bool("json", false, "print each active entry as its record value, one JSON object a line")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, blockUsage)
		fs.PrintDefaults()
	}
	return f
}

func blockDefaultAuthor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "gwctl block (" + name + ")"
}

// parse accepts flags before and after positional arguments: Go's flag
// package stops at the first non-flag, and `gwctl block add 203.0.113.7
// --ttl 2m` is how people type it.
func (f blockFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (f blockFlags) brokerList() []string {
	var out []string
	for _, b := range strings.Split(*f.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func runBlock(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, blockUsage)
		fmt.Fprintln(stderr, "  see gwctl block <add|remove|list> -h")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb := args[0]
	switch verb {
	case "add", "remove", "list":
	default:
		fmt.Fprintf(stderr, "gwctl block: unknown subcommand %q (want add, remove or list)\n", verb)
		return 2
	}
	f := newBlockFlags(verb, stderr)
	pos, err := f.parse(args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(f.brokerList()) == 0 {
		fmt.Fprintln(stderr, "gwctl block: -brokers: at least one broker is required")
		return 2
	}
	if *f.topic == "" {
		fmt.Fprintln(stderr, "gwctl block: -topic: must not be empty")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	switch verb {
	case "add":
		return blockAdd(ctx, f, pos, stdout, stderr)
	case "remove":
		return blockRemove(ctx, f, pos, stdout, stderr)
	default:
		if len(pos) != 0 {
			fmt.Fprintf(stderr, "gwctl block list: unexpected argument %q\n", pos[0])
			return 2
		}
		return blockList(ctx, f, stdout, stderr)
	}
}

// blockTarget checks there is exactly one target and canonicalises it.
func blockTarget(verb string, pos []string, stderr io.Writer) (string, bool) {
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "gwctl block %s: want exactly one target (an IP, a CIDR, consumer:<id> or apikey-fp:<fp>), got %d\n", verb, len(pos))
		return "", false
	}
	subject, err := blocklist.ParseTarget(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "gwctl block %s: %v\n", verb, err)
		return "", false
	}
	return subject, true
}

func blockAdd(ctx context.Context, f blockFlags, pos []string, stdout, stderr io.Writer) int {
	subject, ok := blockTarget("add", pos, stderr)
	if !ok {
		return 2
	}
	switch {
	case *f.ttl <= 0:
		fmt.Fprintf(stderr, "gwctl block add: --ttl: must be positive, got %v\n", *f.ttl)
		return 2
	case *f.ttl%time.Second != 0 || *f.ttl < time.Second:
		fmt.Fprintf(stderr, "gwctl block add: --ttl: %v: the record keeps whole seconds; use at least 1s and whole seconds\n", *f.ttl)
		return 2
	case *f.status < 400 || *f.status > 599:
		fmt.Fprintf(stderr, "gwctl block add: --status: %d is not an HTTP error status (400-599)\n", *f.status)
		return 2
	}
	kind, err := blocklist.KindOf(subject)
	if err != nil { // ParseTarget returned it, so it parses
		fmt.Fprintf(stderr, "gwctl block add: %v\n", err)
		return 2
	}
	now := time.Now().UTC().Truncate(time.Second)
	e := blocklist.Entry{
		Subject: subject, Kind: kind, Until: now.Add(*f.ttl), Reason: *f.reason, Source: record.SourceOperator,
		CreatedBy: *f.by, CreatedAt: now, Status: *f.status, Message: *f.message,
	}
	value, err := blocklist.EncodeValue(e)
	if err == nil {
		// The guard decodes with the same rules; refuse here what it would
		// skip there (a message too long, …).
		_, err = blocklist.DecodeRecord([]byte(subject), value)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gwctl block add: %v\n", err)
		return 2
	}
	if err := blockProduce(ctx, f, subject, value); err != nil {
		fmt.Fprintf(stderr, "gwctl block add: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "blocked %s until %s (%v)\n", subject, e.Until.Format(time.RFC3339), *f.ttl)
	return 0
}

func blockRemove(ctx context.Context, f blockFlags, pos []string, stdout, stderr io.Writer) int {
	subject, ok := blockTarget("remove", pos, stderr)
	if !ok {
		return 2
	}
	if err := blockProduce(ctx, f, subject, nil); err != nil {
		fmt.Fprintf(stderr, "gwctl block remove: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "removed %s\n", subject)
	return 0
}

// blockProduce writes one record (a nil value is a tombstone) and waits
// for every in-sync replica to have it.
func blockProduce(ctx context.Context, f blockFlags, subject string, value []byte) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(f.brokerList()...),
		kgo.DefaultProduceTopic(*f.topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	r := &kgo.Record{Key: []byte(subject), Value: value}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("write %s to %s: %w", subject, *f.topic, err)
	}
	return nil
}

func blockList(ctx context.Context, f blockFlags, stdout, stderr io.Writer) int {
	var lastErr error // OnError calls are serialised and end when Run returns
	fl, err := blocklist.NewFollower(blocklist.Config{
		Brokers: f.brokerList(),
		Topic:   *f.topic,
		OnError: func(err error) {
			if errors.Is(err, blocklist.ErrRecordSkipped) {
				fmt.Fprintf(stderr, "gwctl block list: %v\n", err)
			}
			lastErr = err
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "gwctl block list: %v\n", err)
		return 2
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fl.Run(rctx) }()
	select {
	case <-fl.Ready():
	case <-ctx.Done():
	}
	stop()
	if runErr := <-done; runErr != nil {
		fmt.Fprintf(stderr, "gwctl block list: %v\n", runErr)
		return 1
	}
	select {
	case <-fl.Ready():
	default:
		fmt.Fprintf(stderr, "gwctl block list: could not read %s to its end within %v", *f.topic, *f.timeout)
		if lastErr != nil {
			fmt.Fprintf(stderr, ": %v", lastErr)
		}
		fmt.Fprintln(stderr)
		return 1
	}
	now := time.Now()
	var active []blocklist.Entry
	for _, e := range fl.List().Entries() {
		if e.Active(now) {
			active = append(active, e)
		}
	}
	if *f.json {
		for _, e := range active {
			v, err := blocklist.EncodeValue(e)
			if err != nil {
				fmt.Fprintf(stderr, "gwctl block list: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s\n", v)
		}
		return 0
	}
	if len(active) == 0 {
		fmt.Fprintln(stdout, "no active blocks")
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SUBJECT\tUNTIL\tLEFT\tSTATUS\tSOURCE\tCREATED BY\tREASON")
	for _, e := range active {
		fmt.Fprintf(w, "%s\t%s\t%v\t%d\t%s\t%s\t%s\n", e.Subject, e.Until.UTC().Format(time.RFC3339),
			e.Until.Sub(now).Truncate(time.Second), e.Status, e.Source, e.CreatedBy, blockOneLine(e.Reason))
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "gwctl block list: %v\n", err)
		return 1
	}
	return 0
}

// blockOneLine keeps a reason from breaking the table: it comes from the
// topic, written by anyone with access.
func blockOneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
