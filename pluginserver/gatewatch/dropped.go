package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/publish"
)

// dropReporter turns the publisher's drops into gatewatch.dropped events.
//
// A report is itself an event, and while the spool is full it can be
// dropped too; a report that only said "n more" would then lose count. So
// every report carries the process's running total (detail.dropped_total)
// as well as what is new since the previous report (detail.dropped), and a
// final report goes out once drops have stopped for settle, when the
// publisher has room again: the newest report a consumer holds states the
// whole loss, whatever happened to earlier ones.
type dropReporter struct {
	enqueue func(publish.Message) bool
	ids     *event.IDGen
	topic   string
	host    string
	settle  time.Duration

	mu        sync.Mutex
	total     int64 // drops since the process started
	reported  int64 // total as of the last report
	lastDrop  time.Time
	lastCause string
	final     bool // the settled report for the current total went out
}

func newDropReporter(enqueue func(publish.Message) bool, ids *event.IDGen, topic string) *dropReporter {
	host, _ := os.Hostname()
	// The component names this process, not only this host: a restarted
	// plugin server starts counting from zero, so consumers add up the
	// highest total of each process.
	host = fmt.Sprintf("%s/%d", host, os.Getpid())
	return &dropReporter{enqueue: enqueue, ids: ids, topic: topic, host: host, settle: 5 * time.Second, final: true}
}

// onDrop is the publisher's OnDrop hook: it reports at once (the
// publisher calls it at most once a second per reason).
func (d *dropReporter) onDrop(n int, reason string) {
	d.mu.Lock()
	d.total += int64(n)
	d.lastDrop = time.Now()
	d.lastCause = reason
	d.final = false
	d.mu.Unlock()
	d.report()
}

// run sends the settled report; it returns when ctx ends.
func (d *dropReporter) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.mu.Lock()
			due := !d.final && now.Sub(d.lastDrop) >= d.settle
			d.mu.Unlock()
			if due && d.report() {
				d.mu.Lock()
				d.final = true
				d.mu.Unlock()
			}
		}
	}
}

// report enqueues a report of the running total; it reports whether the
// publisher accepted it.
func (d *dropReporter) report() bool {
	d.mu.Lock()
	total, delta, reason := d.total, d.total-d.reported, d.lastCause
	d.reported = d.total
	d.mu.Unlock()
	now := time.Now().UTC()
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		ID:            d.ids.New(now),
		Time:          now,
		Type:          event.Dropped,
		Severity:      event.High,
		Detail: event.Detail{
			Dropped: int(delta), DroppedTotal: total, Reason: reason,
			Component: "gatewatch@" + d.host,
		},
	}
	return d.enqueue(publish.EventMessage(&ev, d.topic, []byte("gatewatch"), ev.AppendJSON(nil), "", now))
}
