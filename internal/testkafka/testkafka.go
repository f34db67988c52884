// Package testkafka starts an in-process Kafka-protocol broker (kfake) for
// tests and reads topics back with independent clients (franz-go, and
// kafka-go and kcat in readers.go), so that end-to-end tests reconcile what
// gatewatch published with what a consumer sees.
package testkafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics seeded in every test cluster, with 3 partitions each so that
// per-key ordering and partition spread are exercised.
var Topics = []string{"gatewatch.events", "gatewatch.alerts", "gatewatch.blocklist"}

// Start runs a kfake cluster on 127.0.0.1 for the duration of the test.
func Start(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	all := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(3, Topics...),
		kfake.AllowAutoTopicCreation(),
	}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("testkafka: start broker: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Read consumes topic from the beginning until pred says it has enough or
// the context ends, and returns every record it saw.
func Read(ctx context.Context, brokers []string, topic string, pred func([]*kgo.Record) bool) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return nil, fmt.Errorf("testkafka: client: %w", err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for !pred(out) {
		fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(fctx)
		cancel()
		if ctx.Err() != nil {
			return out, fmt.Errorf("testkafka: read %s: %w (have %d records)", topic, ctx.Err(), len(out))
		}
		fs.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded && err != context.Canceled {
				_ = err // transient fetch errors are retried by the next poll
			}
		})
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out, nil
}

// AtLeast is a Read predicate: stop after n records.
func AtLeast(n int) func([]*kgo.Record) bool {
	return func(rs []*kgo.Record) bool { return len(rs) >= n }
}
