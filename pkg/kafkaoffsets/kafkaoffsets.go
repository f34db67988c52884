// Package kafkaoffsets asks a Kafka cluster where each partition of a topic
// starts, ends or reaches a point in time — what a reader needs to consume
// a topic "up to where it was when I started" (gwctl tail, the alert
// consumer's restore, the guard's blocklist follower).
//
// The ListOffsets request is sharded to each partition's leader, so the
// answer is right on a multi-broker cluster.
package kafkaoffsets

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps for List.
const (
	Earliest int64 = -2 // the first retained offset
	End      int64 = -1 // the offset the next record will get
)

// List returns, for every partition of topic, the offset of the first
// record at or after ts (milliseconds since the epoch), or Earliest / End.
func List(ctx context.Context, cl *kgo.Client, topic string, ts int64) (map[int32]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata %s: %d topics in the answer", topic, len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", topic, err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = ts
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	out := make(map[int32]int64, len(lt.Partitions))
	for _, sh := range cl.RequestSharded(ctx, lreq) {
		if sh.Err != nil {
			return nil, fmt.Errorf("list offsets %s: %w", topic, sh.Err)
		}
		for _, t := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("list offsets %s[%d]: %w", topic, p.Partition, err)
				}
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
}
