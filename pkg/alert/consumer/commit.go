package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pendingBatch is a polled batch whose offsets wait for its notifications.
type pendingBatch struct {
	t       *notify.Ticket
	offsets map[string]map[int32]kgo.EpochOffset
	n       int
}

// offsetsOf returns, per partition, the offset to commit after recs.
func offsetsOf(recs []*kgo.Record) map[string]map[int32]kgo.EpochOffset {
	m := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		ps := m[r.Topic]
		if ps == nil {
			ps = map[int32]kgo.EpochOffset{}
			m[r.Topic] = ps
		}
		if eo, ok := ps[r.Partition]; !ok || r.Offset+1 > eo.Offset {
			ps[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
	}
	return m
}

// commitDone commits the longest prefix of pending batches whose
// notifications are complete: order matters, a later batch's offset
// implies the earlier ones.
func (c *Consumer) commitDone(ctx context.Context) {
	c.commitMu.Lock() // commits from Run and from a revoke must not reorder
	defer c.commitMu.Unlock()
	c.mu.Lock()
	merged := map[string]map[int32]kgo.EpochOffset{}
	n, recs := 0, 0
	for _, p := range c.pending {
		select {
		case <-p.t.Done():
		default:
			goto commit
		}
		if p.t.Aborted() {
			goto commit // stopped undelivered: leave it to the next owner
		}
		for t, ps := range p.offsets {
			if merged[t] == nil {
				merged[t] = map[int32]kgo.EpochOffset{}
			}
			for part, eo := range ps {
				merged[t][part] = eo
			}
		}
		n++
		recs += p.n
	}
commit:
	c.pending = c.pending[n:]
	c.mu.Unlock()
	if n == 0 {
		return
	}
	var cerr error
	c.cl.CommitOffsetsSync(ctx, merged, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = err
		if err != nil || resp == nil {
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil && cerr == nil {
					cerr = fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, perr)
				}
			}
		}
	})
	if cerr != nil {
		c.cfg.Log.Warn("commit failed; the events will be re-read after a restart or rebalance", "err", cerr)
		return
	}
	c.C.Commits.Add(1)
	c.C.Committed.Add(uint64(recs))
}

// drain waits up to max for pending notifications, then commits what is
// complete; used before partitions are given away and at shutdown.
func (c *Consumer) drain(ctx context.Context, max time.Duration) {
	deadline := time.After(max)
	c.mu.Lock()
	ps := append([]pendingBatch(nil), c.pending...)
	c.mu.Unlock()
wait:
	for _, p := range ps {
		select {
		case <-p.t.Done():
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	c.commitDone(ctx)
}
