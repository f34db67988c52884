package blocklist

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/pkg/kafkaoffsets"
)

// span is a partition's readable range when the follower started: records
// from start up to (not including) end. Caught up means having consumed
// up to end; an empty partition (start == end) is caught up from the start.
type span struct{ start, end int64 }

// partitionSpans asks the brokers for every partition of topic and its
// earliest and latest offsets.
func partitionSpans(ctx context.Context, cl *kgo.Client, topic string) (map[int32]span, error) {
	starts, err := kafkaoffsets.List(ctx, cl, topic, kafkaoffsets.Earliest)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	ends, err := kafkaoffsets.List(ctx, cl, topic, kafkaoffsets.End)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	if len(ends) == 0 {
		return nil, fmt.Errorf("blocklist: topic %s has no partitions", topic)
	}
	spans := make(map[int32]span, len(ends))
	for p, end := range ends {
		spans[p] = span{start: starts[p], end: end}
	}
	return spans, nil
}
