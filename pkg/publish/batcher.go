package publish

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// size is an upper bound of what kafka-go counts for m against BatchBytes,
// so that a message we accept is never refused by the Writer as too large.
func size(m *Message) int {
	n := 32 + len(m.Key) + len(m.Value)
	for i := range m.Headers {
		n += 10 + len(m.Headers[i].Key) + len(m.Headers[i].Value)
	}
	return n
}

// batcher is the goroutine of one lane: it takes messages out of the
// lane's queue, forms a batch by count, bytes or linger and delivers it
// before forming the next. A key always maps to the same lane, so per-key
// order is kept on the direct path while lanes write concurrently.
func (p *Publisher) batcher(q *laneQueue) {
	defer p.done.Done()
	batch := p.newBatch(0)
	bytes := 0
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	add := func(m Message) {
		n := size(&m)
		if n > p.cfg.BatchBytes {
			p.drop(DropTooLarge, 1)
			p.log.Warn("message larger than BatchBytes dropped", "id", m.ID, "bytes", n)
			return
		}
		if bytes+n > p.cfg.BatchBytes {
			p.deliver(batch, false)
			batch, bytes = p.newBatch(len(batch)), 0
		}
		batch = append(batch, m)
		bytes += n
	}
	for {
		select {
		case <-p.stop:
			p.drain(q, batch)
			return
		default:
		}
		m, ok := q.pop()
		if !ok {
			if q.wait(1, nil, p.stop) == stopped {
				p.drain(q, batch)
				return
			}
			continue
		}
		add(m)
		linger.Reset(p.cfg.Linger)
	fill:
		for len(batch) < p.cfg.BatchSize && len(batch) > 0 {
			if m, ok := q.pop(); ok {
				add(m)
				continue
			}
			// Sleep until the queue can fill the batch, the linger ends
			// or Close begins: one wake-up per batch, not per message.
			if q.wait(p.cfg.BatchSize-len(batch), linger.C, p.stop) == woken {
				continue
			}
			// The messages that came while the batch lingered go with it.
			for len(batch) < p.cfg.BatchSize {
				m, ok := q.pop()
				if !ok {
					break
				}
				add(m)
			}
			break fill
		}
		linger.Stop()
		if len(batch) > 0 {
			p.deliver(batch, false)
			// kafka-go may still hold the old slice if a write timed out.
			batch, bytes = p.newBatch(len(batch)), 0
		}
	}
}

// newBatch makes the slice of the next batch, sized for about as many
// messages as the last one (n) held. A full BatchSize each time would
// allocate 128 KiB per batch with the defaults even when a batch lingers
// with a handful of messages (hundreds of batches a second at a modest
// rate): garbage that makes the collector run, and stop the log handler's
// goroutine, far more often.
func (p *Publisher) newBatch(n int) []Message {
	return make([]Message, 0, min(p.cfg.BatchSize, max(16, n+n/4)))
}

// drain delivers what is left in the buffer at Close, in batches, until
// Close's deadline; deliver spools (or counts) what misses it. Close has
// closed the gate and waited for the Enqueue calls in flight, so every
// claimed slot is written.
func (p *Publisher) drain(q *laneQueue, batch []Message) {
	bytes := 0
	for i := range batch {
		bytes += size(&batch[i])
	}
	for {
		m, ok := q.pop()
		if !ok {
			p.deliver(batch, true)
			return
		}
		n := size(&m)
		if n > p.cfg.BatchBytes {
			p.drop(DropTooLarge, 1)
			continue
		}
		if len(batch) >= p.cfg.BatchSize || bytes+n > p.cfg.BatchBytes {
			p.deliver(batch, true)
			batch, bytes = p.newBatch(len(batch)), 0
		}
		batch = append(batch, m)
		bytes += n
	}
}

// deliver gets batch to Kafka or to the spool. Without a spool it retries
// in memory until it succeeds or, when closing, the deadline passes.
func (p *Publisher) deliver(batch []Message, closing bool) {
	if len(batch) == 0 {
		return
	}
	if p.sp != nil && (p.down.Load() || p.depth() > p.highWater) {
		p.toSpool(batch)
		return
	}
	bo := backoff{min: 50 * time.Millisecond, max: 2 * time.Second}
	for {
		ctx, cancel := p.writeContext()
		rest, err := p.write(ctx, batch)
		cancel()
		if err == nil {
			p.setUp()
			return
		}
		batch = rest
		p.setDown(err)
		if p.sp != nil {
			p.toSpool(batch)
			return
		}
		if closing && p.closeCtx.Err() != nil {
			p.drop(DropCloseTimeout, len(batch))
			p.log.Error("close deadline passed with messages unsent and no spool", "messages", len(batch))
			return
		}
		p.retried.Add(uint64(len(batch)))
		if !p.sleep(bo.next(), closing) {
			if !closing {
				closing = true // Close began: keep trying until its deadline
				continue
			}
			p.drop(DropCloseTimeout, len(batch))
			p.log.Error("close deadline passed with messages unsent and no spool", "messages", len(batch))
			return
		}
	}
}

// writeContext bounds one attempt of the batcher by WriteTimeout and by
// Close's deadline (runCtx ends with it), so that Close is never held up
// by a hung broker.
func (p *Publisher) writeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.runCtx, p.cfg.WriteTimeout)
}

// sleep waits d, or until Close begins (when not closing yet) or Close's
// deadline passes (when closing). It returns false if it was cut short.
func (p *Publisher) sleep(d time.Duration, closing bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var cut <-chan struct{} = p.stop
	if closing {
		cut = p.closeCtx.Done()
	}
	select {
	case <-t.C:
		return true
	case <-cut:
		return false
	}
}

// write makes one attempt at batch. It returns the messages that must be
// tried again (nil on full success) and the error that made them fail.
// Messages the broker refuses for good are dropped and counted here.
func (p *Publisher) write(ctx context.Context, batch []Message) ([]Message, error) {
	msgs := make([]kafka.Message, len(batch))
	nh := 0
	for i := range batch {
		nh += len(batch[i].Headers)
	}
	hs := make([]kafka.Header, 0, nh)
	for i := range batch {
		m := &batch[i]
		start := len(hs)
		for _, h := range m.Headers {
			hs = append(hs, kafka.Header{Key: h.Key, Value: h.Value})
		}
		topic := m.Topic
		if topic == "" {
			topic = p.cfg.Topic
		}
		msgs[i] = kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: hs[start:len(hs):len(hs)], Time: m.Time}
	}
	// The Writer has no default topic, so that each message names its own.
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil {
		p.acked(batch)
		return nil, nil
	}
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(batch) {
		p.m.brokerError(err)
		if !isRetryable(err) {
			// E.g. an invalid topic name: no retry can succeed, and
			// retrying would hold up every batch behind this one.
			p.drop(DropRejected, len(batch))
			p.log.Error("broker refused a batch for good", "messages", len(batch), "err", err)
			return nil, nil
		}
		return batch, err
	}
	var rest []Message
	var first error
	for i, e := range werrs {
		switch {
		case e == nil:
			p.acked(batch[i : i+1])
		case !isRetryable(e):
			p.drop(DropRejected, 1)
			p.m.brokerError(e)
			p.log.Error("broker refused a message for good", "id", batch[i].ID, "err", e)
		default:
			if first == nil {
				first = e
				p.m.brokerError(e)
			}
			rest = append(rest, batch[i])
		}
	}
	if len(rest) == 0 {
		return nil, nil
	}
	return rest, first
}

func (p *Publisher) acked(batch []Message) {
	p.published.Add(uint64(len(batch)))
	p.m.observeLatency(batch)
}

func (p *Publisher) setDown(err error) {
	err = p.sasl.explain(err)
	msg := err.Error()
	p.lastErr.Store(&msg)
	if !p.down.Swap(true) {
		p.log.Warn("kafka write failed; retrying and spooling until it succeeds", "err", err)
	}
}

func (p *Publisher) setUp() {
	if p.down.Swap(false) {
		p.log.Info("kafka writes succeed again")
	}
}

// toSpool appends batch to the spool and wakes the replayer.
func (p *Publisher) toSpool(batch []Message) {
	if err := p.sp.Append(p.toRecords(batch)); err != nil {
		p.drop(DropSpoolError, len(batch))
		p.log.Error("spool append failed; messages lost", "messages", len(batch), "err", err)
		return
	}
	p.spooled.Add(uint64(len(batch)))
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// backoff grows exponentially from min to max with full jitter, so that
// many gatewatch processes do not hammer a recovering cluster in step.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << b.n
	if d > b.max || d <= 0 {
		d = b.max
	} else {
		b.n++
	}
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }

// isRetryable is false only for errors that no retry can cure; everything
// else (io.EOF and reset connections during broker restarts, leader
// changes, timeouts, unknown topic while auto-creation runs, SASL failures
// an operator may fix) is retried or spooled.
func isRetryable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.MessageSizeTooLarge, kafka.InvalidTopic, kafka.RecordListTooLarge,
			kafka.InvalidRecord, kafka.UnsupportedForMessageFormat:
			return false
		}
	}
	return true
}

// errorCode names err for the broker-errors metric with a bounded set of
// values.
func errorCode(err error) string {
	var ke kafka.Error
	switch {
	case errors.As(err, &ke):
		return ke.Title()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "timeout"
		}
		return "network"
	}
	return "other"
}
