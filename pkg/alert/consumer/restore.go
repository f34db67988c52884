package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/notify/kafkatopic"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	ends, err := endOffsets(ctx, c.cl, c.alertsTopic)
	if err != nil {
		return 0, err
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

// endOffsets asks the broker for the end offset of every partition of
// topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("restore: metadata %s: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("restore: metadata %s: no topic in response", topic)
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("restore: metadata %s: %w", topic, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // the end
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	shards := cl.RequestSharded(ctx, lreq)
	out := map[int32]int64{}
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, fmt.Errorf("restore: list offsets %s: %w", topic, sh.Err)
		}
		for _, t := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("restore: list offsets %s[%d]: %w", topic, p.Partition, err)
				}
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
}
