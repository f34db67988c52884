// Package publish delivers gatewatch's security events to Kafka without
// ever making the caller wait and without losing them.
//
// Guarantees:
//   - Enqueue never blocks: it hands the message to a bounded in-memory
//     buffer and returns; it refuses (false, counted as buffer_full) only
//     when that buffer is full.
//   - Delivery is at least once: a message leaves the buffer only when
//     every in-sync replica has it (acks=all) or when it is in the disk
//     spool, from which it is replayed until the broker acknowledges it.
//     Retries and replays can duplicate a message; consumers de-duplicate
//     by Message.ID (docs/delivery.md).
//   - Every message that is not delivered is counted by reason (Stats,
//     metrics, Config.OnDrop): nothing is lost silently.
//   - Close is bounded by Config.CloseTimeout even when no broker answers.
//
// Two batcher goroutines ("lanes", chosen by the message key so that a
// client's events stay in order) form batches by count, bytes or linger and
// write them synchronously with kafka-go's Writer; kafka-go's async mode is
// never used because it loses errors and queues without bound. When a write
// fails, or the buffer passes its high-water mark, batches go to the spool
// and a replayer goroutine drains it in order, with backoff and jitter,
// while new batches flow to Kafka again as soon as a write succeeds.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/gatewatch/gatewatch/pkg/spool"
)

// Header is one Kafka record header.
type Header = spool.Header

// Message is one event to publish. Its fields are in the same order and of
// the same types as spool.Record, so that one converts to the other for
// free.
type Message struct {
	Topic   string    // "" = Config.Topic
	Key     []byte    // partition key (client IP)
	Value   []byte    // the encoded event
	Headers []Header  // CloudEvents Kafka binding headers, set by the caller
	ID      string    // event id: spool records, reconciliation, de-duplication
	Time    time.Time // enqueue time: latency and spool age
}

// lanes is how many batchers write concurrently. Two keep both cores of a
// small gateway host busy (compression on one, the network on the other)
// where one batcher waits for each acknowledgement in turn.
const lanes = 2

// lane maps a key to its lane with FNV-1a, so a client's events stay in
// order.
func lane(key []byte, n int) int {
	h := uint32(2166136261)
	for _, c := range key {
		h ^= uint32(c)
		h *= 16777619
	}
	return int(h % uint32(n))
}

func (p *Publisher) depth() int {
	n := 0
	for _, q := range p.lanes {
		n += q.depth()
	}
	return n
}

// closedBit marks the gate closed; the low bits count Enqueue calls in
// flight, so that Close knows when no more messages can arrive.
const closedBit = 1 << 62

// Publisher batches messages to Kafka. Create it with New; it is safe for
// concurrent use.
type Publisher struct {
	cfg       Config
	log       *slog.Logger
	w         *kafka.Writer
	transport *kafka.Transport
	sp        *spool.Spool // nil: no spool
	lanes     []*laneQueue // the memory buffer, split by key
	highWater int

	gate atomic.Int64

	closeOnce  sync.Once
	stop       chan struct{}   // closed by Close
	closeCtx   context.Context // set before stop is closed; ends at Close's deadline
	runCtx     context.Context // parent of every write; cancelled at Close's deadline
	runCancel  context.CancelFunc
	stopCtx    context.Context // cancelled when Close begins (replay writes)
	stopCancel context.CancelFunc
	kick       chan struct{}  // wakes the replayer
	done       sync.WaitGroup // batcher and replayer
	reporter   chan struct{}  // closed when the drop reporter has exited

	sasl    *saslWatch // nil without SASL
	down    atomic.Bool
	lastErr atomic.Pointer[string]

	enqueued, published, retried, spooled, replayed atomic.Uint64
	dropped                                         [len(dropReasons)]atomic.Uint64

	m *metrics
}

// New validates c (after WithDefaults), opens the spool (and schedules the
// replay of whatever a previous process left in it) and starts the batcher.
// It does not contact the brokers: they may be down.
func New(c Config) (*Publisher, error) {
	c = c.WithDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	codec, _ := compression(c.Compression)
	tc, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	mech, err := c.SASL.build()
	if err != nil {
		return nil, err
	}
	var watch *saslWatch
	if mech != nil {
		watch = &saslWatch{Mechanism: mech, user: c.SASL.Username}
		mech = watch
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		cfg:       c,
		log:       log.With("component", "publish"),
		highWater: c.BufferSize / 2,
		stop:      make(chan struct{}),
		kick:      make(chan struct{}, 1),
		reporter:  make(chan struct{}),
		sasl:      watch,
	}
	p.runCtx, p.runCancel = context.WithCancel(context.Background())
	p.stopCtx, p.stopCancel = context.WithCancel(context.Background())
	p.transport = &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		// A short TTL bounds how long a moved leader keeps failing writes:
		// kafka-go refreshes partition leaders only on this clock.
		MetadataTTL: time.Second,
		ClientID:    c.ClientID,
		TLS:         tc,
		SASL:        mech,
	}
	p.w = &kafka.Writer{
		Addr:     kafka.TCP(c.Brokers...),
		Balancer: &kafka.Murmur2Balancer{}, // same partition for a key as the Java client
		// One attempt per call: retries are ours, so that they are counted,
		// interruptible by Close, and followed by the spool.
		MaxAttempts: 1,
		BatchSize:   c.BatchSize,
		BatchBytes:  int64(c.BatchBytes),
		// Our batcher lingers; kafka-go's per-partition timer must not add
		// its own wait to a partial partition batch.
		BatchTimeout:           500 * time.Microsecond,
		ReadTimeout:            c.WriteTimeout,
		WriteTimeout:           c.WriteTimeout,
		RequiredAcks:           kafka.RequireAll,
		Compression:            codec,
		Transport:              p.transport,
		AllowAutoTopicCreation: true,
	}
	if c.Spool.Dir != "" {
		sp, err := spool.Open(c.Spool, p.spoolDrop)
		if err != nil {
			return nil, fmt.Errorf("publish: Spool.Dir: %w", err)
		}
		p.sp = sp
		if st := sp.Stats(); st.Records > 0 {
			p.log.Info("replaying spool left by a previous run", "records", st.Records, "bytes", st.Bytes)
		}
	}
	if p.m, err = newMetrics(p, c.Registerer); err != nil {
		if p.sp != nil {
			_ = p.sp.Close()
		}
		return nil, err
	}
	p.lanes = make([]*laneQueue, lanes)
	for i := range p.lanes {
		p.lanes[i] = newLaneQueue((c.BufferSize + lanes - 1) / lanes)
		p.done.Add(1)
		go p.batcher(p.lanes[i])
	}
	if p.sp != nil {
		p.done.Add(1)
		go p.replayer()
	}
	go p.reportDrops()
	return p, nil
}

// Enqueue hands m to the batcher without blocking. It returns false only
// when m could not be accepted (buffer full or publisher closed); that
// loss is counted. It never waits for the batcher: it claims a slot of a
// lock-free queue and, at most once per batch, wakes the batcher with a
// non-blocking send (see laneQueue); it does no I/O and no allocation.
func (p *Publisher) Enqueue(m Message) bool {
	if p.gate.Add(1)&closedBit != 0 {
		p.gate.Add(-1)
		p.dropped[idxClosed].Add(1)
		return false
	}
	if p.lanes[lane(m.Key, len(p.lanes))].push(&m) {
		p.gate.Add(-1)
		p.enqueued.Add(1)
		return true
	}
	p.gate.Add(-1)
	p.dropped[idxBufferFull].Add(1)
	return false
}

// Close stops intake, flushes the buffer to Kafka until CloseTimeout (or
// ctx) ends, spools what is left, and releases the connections. It returns
// an error when messages were lost at close (no spool, or the spool
// failed). Calling it again returns nil.
func (p *Publisher) Close(ctx context.Context) error {
	err := error(nil)
	p.closeOnce.Do(func() { err = p.close(ctx) })
	return err
}

func (p *Publisher) close(ctx context.Context) error {
	deadline := time.Now().Add(p.cfg.CloseTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	lostBefore := p.closeLosses()

	p.gate.Or(closedBit)
	for p.gate.Load() != closedBit { // Enqueue calls that got in before the gate closed
		runtime.Gosched()
	}
	p.closeCtx = cctx
	stopRun := context.AfterFunc(cctx, p.runCancel)
	defer stopRun()
	defer p.runCancel()
	close(p.stop)
	p.stopCancel()
	p.done.Wait()

	var errs []error
	if p.sp != nil {
		if err := p.sp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("publish: close spool: %w", err))
		}
	}
	wdone := make(chan struct{})
	go func() {
		_ = p.w.Close() // never fails; it waits for in-flight produce requests
		p.transport.CloseIdleConnections()
		close(wdone)
	}()
	wait := time.Until(deadline)
	if wait < 100*time.Millisecond {
		wait = 100 * time.Millisecond
	}
	select {
	case <-wdone:
	case <-time.After(wait):
		p.log.Warn("kafka writer did not close in time; abandoning its connections")
	}
	<-p.reporter
	if lost := p.closeLosses() - lostBefore; lost > 0 {
		errs = append(errs, fmt.Errorf("publish: close: %d messages lost (%s or %s)", lost, DropCloseTimeout, DropSpoolError))
	}
	return errors.Join(errs...)
}

func (p *Publisher) closeLosses() uint64 {
	return p.dropped[reasonIndex(DropCloseTimeout)].Load() + p.dropped[reasonIndex(DropSpoolError)].Load()
}
