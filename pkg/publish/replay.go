package publish

import (
	"context"
	"time"

	"github.com/gatewatch/gatewatch/pkg/spool"
)

// toRecords converts a batch for the spool, with the topic resolved now,
// so that a replay after a configuration change goes where it was meant to.
func (p *Publisher) toRecords(batch []Message) []spool.Record {
	recs := make([]spool.Record, len(batch))
	for i := range batch {
		recs[i] = spool.Record(batch[i])
		if recs[i].Topic == "" {
			recs[i].Topic = p.cfg.Topic
		}
	}
	return recs
}

// replayer drains the spool to Kafka in order, one batch at a time,
// acknowledging a batch to the spool (which deletes fully sent segments)
// only after Kafka acknowledged all of it. A failed batch is retried whole
// after a backoff with jitter, so some of its records may arrive twice.
// Meanwhile the batcher keeps writing new batches directly.
func (p *Publisher) replayer() {
	defer p.done.Done()
	bo := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	// The tick enforces the spool's age limit and retries reads even when
	// nothing new is spooled.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		p.sp.Enforce(time.Now())
		recs, cur, err := p.sp.Peek(p.cfg.BatchSize, p.cfg.BatchBytes)
		if err != nil {
			p.log.Error("spool read failed", "err", err)
			if !p.sleep(bo.next(), false) {
				return
			}
			continue
		}
		if len(recs) == 0 {
			// Nothing spooled: let the batcher try Kafka directly again.
			p.down.Store(false)
			select {
			case <-p.stop:
				return
			case <-p.kick:
			case <-tick.C:
			}
			continue
		}
		batch := make([]Message, len(recs))
		for i := range recs {
			batch[i] = Message(recs[i])
		}
		// Close cancels a replay write at once: its records are safe on
		// disk, and the bandwidth belongs to the buffer's final flush.
		ctx, cancel := context.WithTimeout(p.stopCtx, p.cfg.WriteTimeout)
		rest, err := p.write(ctx, batch)
		cancel()
		if err != nil {
			p.setDown(err)
			p.retried.Add(uint64(len(rest)))
			if !p.sleep(bo.next(), false) {
				return
			}
			continue
		}
		if err := p.sp.Ack(cur); err != nil {
			p.log.Error("spool ack failed; records will be replayed again", "err", err)
		}
		p.replayed.Add(uint64(len(recs)))
		bo.reset()
		p.setUp()
	}
}
