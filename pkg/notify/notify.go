// Package notify delivers alert transitions to receivers (Alertmanager,
// webhooks, Slack, PagerDuty, a Kafka topic). Each integration is its own
// package under pkg/notify and satisfies one small interface, Notifier; this
// package holds what is common to all of them, once: a queue and a worker
// per receiver, retry with capped exponential backoff, and completion
// tickets the consumer waits on before it commits offsets.
//
// Guarantees: receivers progress independently, so a receiver that is down
// delays only its own deliveries (and the offset commit), never another
// receiver's; each receiver gets its alerts in the order they were
// enqueued, so a resolution never overtakes its firing; a delivery is
// retried until it succeeds, the integration says retrying cannot help, or
// the backoff's MaxElapsed passes; then it is counted as failed and logged
// without the secret parts of the receiver's configuration.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
)

// Notifier delivers alerts to one integration. retry says whether trying
// again later may succeed (a timeout, a 5xx, a 429) as opposed to a request
// the receiver will never accept (a 4xx).
type Notifier interface {
	Notify(ctx context.Context, alerts ...alert.Alert) (retry bool, err error)
}

// Backoff is the retry schedule: Initial, doubling up to Max, with ±10 %
// jitter, until MaxElapsed since the first attempt.
type Backoff struct {
	Initial    time.Duration // default 200ms
	Max        time.Duration // default 10s
	MaxElapsed time.Duration // default 2m
	Attempt    time.Duration // timeout per attempt, default 10s
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.MaxElapsed <= 0 {
		b.MaxElapsed = 2 * time.Minute
	}
	if b.Attempt <= 0 {
		b.Attempt = 10 * time.Second
	}
	return b
}

// Receiver is a named notifier and its retry schedule.
type Receiver struct {
	Name     string
	Notifier Notifier
	Backoff  Backoff
	// Resend, when positive, asks the consumer to send firing alerts again
	// at this interval (Alertmanager forgets alerts not re-sent).
	Resend time.Duration
}

// Stats counts deliveries of one receiver.
type Stats struct {
	Sent    uint64 // batches delivered
	Retries uint64 // failed attempts that were retried
	Failed  uint64 // batches given up on
	Dropped uint64 // batches refused because the queue was full
}

// MaxQueue is how many batches a receiver may have waiting; beyond it new
// batches are dropped and counted rather than growing without bound.
const MaxQueue = 10_000

// Pipeline owns one worker per receiver.
type Pipeline struct {
	log     *slog.Logger
	workers map[string]*worker
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type worker struct {
	r     Receiver
	log   *slog.Logger
	mu    sync.Mutex
	queue []item
	wake  chan struct{}
	stats struct{ sent, retries, failed, dropped atomic.Uint64 }
}

type item struct {
	alerts []alert.Alert
	t      *Ticket
}

// Ticket completes when every receiver it was enqueued to has delivered,
// given up, or been stopped by Close.
type Ticket struct {
	pending atomic.Int64
	done    chan struct{}
	failed  atomic.Int64
	aborted atomic.Bool
}

// Aborted reports whether Close stopped a delivery of the ticket before it
// succeeded or used up its retries: such alerts were not delivered and
// their events must not be committed.
func (t *Ticket) Aborted() bool { return t.aborted.Load() }

// Done is closed when the ticket completes.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Failed is how many receivers gave up on the ticket's alerts.
func (t *Ticket) Failed() int { return int(t.failed.Load()) }

func (t *Ticket) finish(ok bool) {
	if !ok {
		t.failed.Add(1)
	}
	if t.pending.Add(-1) == 0 {
		close(t.done)
	}
}

// ErrUnknownReceiver is returned by Enqueue for a name no receiver has.
var ErrUnknownReceiver = errors.New("notify: unknown receiver")

// New starts a worker per receiver.
func New(log *slog.Logger, receivers ...Receiver) *Pipeline {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{log: log, workers: map[string]*worker{}, ctx: ctx, cancel: cancel}
	for _, r := range receivers {
		r.Backoff = r.Backoff.withDefaults()
		w := &worker{r: r, log: log.With("receiver", r.Name), wake: make(chan struct{}, 1)}
		p.workers[r.Name] = w
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run(ctx)
		}()
	}
	return p
}

// Receivers lists the receivers with their configuration.
func (p *Pipeline) Receivers() []Receiver {
	out := make([]Receiver, 0, len(p.workers))
	for _, w := range p.workers {
		out = append(out, w.r)
	}
	return out
}

// Enqueue hands each receiver its alerts and returns a ticket that
// completes when all of them are delivered or given up. It never blocks on
// a receiver.
func (p *Pipeline) Enqueue(batch map[string][]alert.Alert) (*Ticket, error) {
	t := &Ticket{done: make(chan struct{})}
	n := 0
	for name, alerts := range batch {
		if len(alerts) == 0 {
			continue
		}
		if _, ok := p.workers[name]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownReceiver, name)
		}
		n++
	}
	t.pending.Store(int64(n) + 1)
	for name, alerts := range batch {
		if len(alerts) > 0 {
			p.workers[name].push(item{alerts: alerts, t: t})
		}
	}
	t.finish(true) // the +1 above: no worker can complete t before all are queued
	return t, nil
}

// Stats returns the counters of the named receiver.
func (p *Pipeline) Stats(name string) Stats {
	w, ok := p.workers[name]
	if !ok {
		return Stats{}
	}
	return Stats{Sent: w.stats.sent.Load(), Retries: w.stats.retries.Load(), Failed: w.stats.failed.Load(), Dropped: w.stats.dropped.Load()}
}

// Close stops the workers after their queues drain or ctx ends; what is
// still queued then completes its tickets as failed.
func (p *Pipeline) Close(ctx context.Context) {
	drained := make(chan struct{})
	go func() {
		for _, w := range p.workers {
			w.waitEmpty(ctx)
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
	}
	p.cancel()
	p.wg.Wait()
}

func (w *worker) push(it item) {
	w.mu.Lock()
	if len(w.queue) >= MaxQueue {
		w.mu.Unlock()
		w.stats.dropped.Add(1)
		w.log.Warn("notify queue full, dropping alerts", "alerts", len(it.alerts))
		it.t.finish(false)
		return
	}
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) waitEmpty(ctx context.Context) {
	for {
		w.mu.Lock()
		n := len(w.queue)
		w.mu.Unlock()
		if n == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (w *worker) run(ctx context.Context) {
	for {
		w.mu.Lock()
		var it item
		ok := len(w.queue) > 0
		if ok {
			it = w.queue[0]
		}
		w.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		delivered := w.deliver(ctx, it.alerts)
		w.mu.Lock()
		w.queue[0] = item{}
		w.queue = w.queue[1:]
		w.mu.Unlock()
		if !delivered && ctx.Err() != nil {
			it.t.aborted.Store(true)
		}
		it.t.finish(delivered)
		if ctx.Err() != nil {
			w.failRest()
			return
		}
	}
}

func (w *worker) failRest() {
	w.mu.Lock()
	q := w.queue
	w.queue = nil
	w.mu.Unlock()
	for _, it := range q {
		w.stats.failed.Add(1)
		it.t.aborted.Store(true)
		it.t.finish(false)
	}
}

// deliver tries until success, a permanent error, or MaxElapsed.
func (w *worker) deliver(ctx context.Context, alerts []alert.Alert) bool {
	b := w.r.Backoff
	start := time.Now()
	wait := b.Initial
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, b.Attempt)
		retry, err := w.r.Notifier.Notify(actx, alerts...)
		cancel()
		if err == nil {
			w.stats.sent.Add(1)
			return true
		}
		if !retry || ctx.Err() != nil || time.Since(start)+wait > b.MaxElapsed {
			w.stats.failed.Add(1)
			w.log.Error("notify failed, giving up", "alerts", len(alerts), "attempts", attempt, "err", err)
			return false
		}
		w.stats.retries.Add(1)
		w.log.Warn("notify failed, will retry", "attempt", attempt, "in", wait, "err", err)
		jitter := time.Duration(rand.Int64N(int64(wait)/5+1)) - wait/10
		select {
		case <-ctx.Done():
			w.stats.failed.Add(1)
			return false
		case <-time.After(wait + jitter):
		}
		wait = min(2*wait, b.Max)
	}
}
