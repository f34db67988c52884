package main

// gwctl errlog follows Kong's error.log and publishes kong.error events:
// lines at -min-level or above, and below it (down to info) those that
// pkg/errlog classifies as something (a plugin server's termination, its
// panics), with bursts of like lines collapsed into one event per -window
// with a count.
//
// Every -window the open groups are published and, once the publisher
// says Kafka holds (or the spool holds) everything enqueued, the read
// position is saved to -state. A restart resumes from there, reading the
// rest of a file rotated meanwhile first, so a clean stop and start neither
// repeats nor skips a line; a crash can repeat at most one window (events
// carry distinct ids; de-duplicate by message and time if it matters).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/errlog"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/publish"
)

func init() {
	register(command{
		name:    "errlog",
		summary: "follow Kong's error.log and publish kong.error events",
		run:     runErrlog,
	})
}

type errlogConfig struct {
	file      string
	brokers   []string
	topic     string
	state     string
	fromStart bool
	window    time.Duration
	poll      time.Duration
	minLevel  string
	nodeID    string
	print     bool
	once      bool
	loc       *time.Location
}

func parseErrlogFlags(args []string, stderr io.Writer) (*errlogConfig, error) {
	fs := flag.NewFlagSet("gwctl errlog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "/usr/local/kong/logs/error.log", "Kong's error log to follow")
	brokers := fs.String("brokers", "localhost:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic", "gatewatch.events", "events topic to publish to")
	state := fs.String("state", "", "file keeping the read position across restarts (recommended; without it, reading starts at the end of -file, or its start with -from-start)")
	fromStart := fs.Bool("from-start", false, "without a saved position, read -file from its beginning rather than its end")
	window := fs.Duration("window", 10*time.Second, "burst window: like lines within one window become one event with a count")
	poll := fs.Duration("poll", 250*time.Millisecond, "how often to look for new lines")
	minLevel := fs.String("min-level", "warn", "lowest nginx level published whatever its category: "+strings.Join(errlog.Levels, ", "))
	nodeID := fs.String("node-id", "", "kong.node_id of the events (default: this host's name)")
	printOnly := fs.Bool("print", false, "write events as JSON lines to stdout instead of Kafka (triage, tests)")
	once := fs.Bool("once", false, "read what -file holds now, publish, save the position and exit")
	tz := fs.String("tz", "Local", "time zone of the log's timestamps (nginx writes local time)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &errlogConfig{file: *file, topic: *topic, state: *state, fromStart: *fromStart, window: *window,
		poll: *poll, minLevel: *minLevel, nodeID: *nodeID, print: *printOnly, once: *once}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.brokers = append(c.brokers, b)
		}
	}
	switch {
	case c.file == "":
		return nil, errors.New("-file: required")
	case !c.print && len(c.brokers) == 0:
		return nil, errors.New("-brokers: at least one broker is required (or -print)")
	case !c.print && c.topic == "":
		return nil, errors.New("-topic: must not be empty")
	case c.window <= 0 || c.poll <= 0:
		return nil, errors.New("-window and -poll must be positive")
	case errlog.LevelRank(c.minLevel) < 0:
		return nil, fmt.Errorf("-min-level: %q is not one of %s", c.minLevel, strings.Join(errlog.Levels, ", "))
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return nil, fmt.Errorf("-tz: %w", err)
	}
	c.loc = loc
	if c.nodeID == "" {
		c.nodeID, _ = os.Hostname()
	}
	return c, nil
}

func runErrlog(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c, err := parseErrlogFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gwctl errlog: %v\n", err)
		return 2
	}
	n, err := followErrlog(ctx, c, stdout)
	fmt.Fprintf(stderr, "gwctl errlog: %d events\n", n)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "gwctl errlog: %v\n", err)
		return 1
	}
	return 0
}

// errlogSink is where events go: Kafka through pkg/publish, or stdout.
type errlogSink interface {
	send(e *event.Event) bool
	// settled reports whether everything sent is in Kafka or the spool.
	settled() bool
	close(ctx context.Context) error
}

type printSink struct{ w io.Writer }

func (s printSink) send(e *event.Event) bool {
	_, err := s.w.Write(append(e.AppendJSON(nil), '\n'))
	return err == nil
}
func (printSink) settled() bool               { return true }
func (printSink) close(context.Context) error { return nil }

type kafkaSink struct {
	p        *publish.Publisher
	enqueued uint64
}

func (s *kafkaSink) send(e *event.Event) bool {
	key := e.Client.IP
	if key == "" {
		key = e.Detail.Component
	}
	ok := s.p.Enqueue(publish.EventMessage(e, "", []byte(key), e.AppendJSON(nil), "", time.Now()))
	if ok {
		s.enqueued++
	}
	return ok
}

func (s *kafkaSink) settled() bool {
	st := s.p.Stats()
	return st.Published-st.Replayed+st.Spooled >= s.enqueued
}

func (s *kafkaSink) close(ctx context.Context) error { return s.p.Close(ctx) }

func followErrlog(ctx context.Context, c *errlogConfig, stdout io.Writer) (int, error) {
	var pos errlog.Position
	if c.state != "" {
		var err error
		if pos, err = errlog.LoadPosition(c.state); err != nil {
			return 0, err
		}
	}
	fl, err := errlog.Open(c.file, pos, c.fromStart)
	if err != nil {
		return 0, err
	}
	defer fl.Close()

	var sink errlogSink = printSink{stdout}
	if !c.print {
		p, err := publish.New(publish.Config{Brokers: c.brokers, Topic: c.topic, ClientID: "gatewatch-errlog"})
		if err != nil {
			return 0, fmt.Errorf("publisher: %w", err)
		}
		sink = &kafkaSink{p: p}
	}
	ids := event.NewIDGen()
	col := &errlog.Collapser{MinLevel: c.minLevel}
	sent := 0
	var sendErr error
	flush := func() {
		for _, g := range col.Flush() {
			e := g.Event(ids.New(time.Now()), c.nodeID)
			if sink.send(&e) {
				sent++
			} else if sendErr == nil {
				sendErr = errors.New("publisher refused an event (buffer full or closed)")
			}
		}
	}
	save := func(p errlog.Position, wait time.Duration) error {
		if c.state == "" {
			return nil
		}
		for deadline := time.Now().Add(wait); !sink.settled(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				return nil // not yet: the next window saves a later position
			}
		}
		if sendErr != nil {
			return nil // something was not taken: keep the old position, read it again
		}
		return errlog.SavePosition(c.state, p)
	}
	finish := func(runErr error) (int, error) {
		flush()
		p := fl.Position()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closeErr := sink.close(cctx)
		if err := save(p, 0); err != nil && runErr == nil {
			runErr = err
		}
		if closeErr != nil && runErr == nil {
			runErr = fmt.Errorf("publisher: %w", closeErr)
		}
		if sendErr != nil && runErr == nil {
			runErr = sendErr
		}
		return sent, runErr
	}

	next := time.Now().Add(c.window)
	for {
		lines, err := fl.Poll()
		for _, s := range lines {
			l, perr := errlog.Parse(s, c.loc)
			if perr != nil {
				if s != "" {
					col.Continue(s)
				}
				continue
			}
			col.Add(l)
		}
		if err != nil {
			return finish(err)
		}
		if c.once && len(lines) == 0 {
			return finish(nil)
		}
		if now := time.Now(); !now.Before(next) {
			flush()
			if err := save(fl.Position(), 5*time.Second); err != nil {
				return finish(err)
			}
			next = now.Add(c.window)
		}
		if len(lines) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return finish(ctx.Err())
		case <-time.After(c.poll):
		}
	}
}
