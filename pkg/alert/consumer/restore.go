package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/kafkaoffsets"
	"github.com/gatewatch/gatewatch/pkg/notify/kafkatopic"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restore reads the alerts topic to its current end and hands the engine
// every alert whose last record says firing and whose key is read from one
// of the assigned events partitions. This is what lets a restarted (or
// newly assigned) instance resolve alerts its predecessor left firing, and
// not fire them a second time. Only rules grouped by client.ip are
// restored: their keys live in exactly one partition.
func (c *Consumer) restore(ctx context.Context, partitions []int32) (int, error) {
	if c.alertsTopic == "" || len(partitions) == 0 {
		return 0, nil
	}
	owned := map[int32]bool{}
	for _, p := range partitions {
		owned[p] = true
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ends, err := kafkaoffsets.List(ctx, c.cl, c.alertsTopic, kafkaoffsets.End)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	starts := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			starts[p] = kgo.NewOffset().AtStart()
			remaining[p] = end
		}
	}
	if len(starts) == 0 {
		return 0, nil
	}
	rd, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.alertsTopic: starts}),
	}, c.cfg.ExtraOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("restore: client: %w", err)
	}
	defer rd.Close()
	last := map[string]kafkatopic.Record{}
	for len(remaining) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return 0, fmt.Errorf("restore: read %s: %w", c.alertsTopic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v kafkatopic.Record
			if json.Unmarshal(r.Value, &v) == nil && v.ID != "" {
				last[v.ID] = v
			}
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	n := 0
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range last {
		if v.Status != string(alert.Firing) || v.SourcePartition == nil || !owned[*v.SourcePartition] {
			continue
		}
		if c.engine.Restore(alert.Restored{
			ID: v.ID, Rule: v.Rule, GroupKey: v.GroupKey, StartsAt: v.StartsAt,
			Labels: v.Labels, Annotations: v.Annotations, Value: v.Value, Source: *v.SourcePartition,
		}, now) {
			n++
		}
	}
	return n, nil
}
