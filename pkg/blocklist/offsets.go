package blocklist

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// span is a partition's readable range when the follower started: records
// from start up to (not including) end. Caught up means having consumed
// up to end; an empty partition (start == end) is caught up from the start.
type span struct{ start, end int64 }

// partitionSpans asks the brokers for every partition of topic and its
// earliest and latest offsets.
func partitionSpans(ctx context.Context, cl *kgo.Client, topic string) (map[int32]span, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mres, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("blocklist: metadata for %s: %w", topic, err)
	}
	if len(mres.Topics) != 1 {
		return nil, fmt.Errorf("blocklist: metadata for %s: %d topics in the answer", topic, len(mres.Topics))
	}
	if err := kerr.ErrorForCode(mres.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("blocklist: metadata for %s: %w", topic, err)
	}
	spans := make(map[int32]span, len(mres.Topics[0].Partitions))
	for _, ts := range []int64{-2, -1} { // earliest, then latest
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range mres.Topics[0].Partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp = ts
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		res, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, fmt.Errorf("blocklist: list offsets of %s: %w", topic, err)
		}
		for _, t := range res.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("blocklist: list offsets of %s[%d]: %w", topic, p.Partition, err)
				}
				s := spans[p.Partition]
				if ts == -2 {
					s.start = p.Offset
				} else {
					s.end = p.Offset
				}
				spans[p.Partition] = s
			}
		}
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("blocklist: topic %s has no partitions", topic)
	}
	return spans, nil
}
