package kafkaoffsets

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// On a 3-broker cluster the partitions have different leaders; every
// partition still gets its own answer.
func TestListAnswersForEveryPartitionOnEveryLeader(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	require.NoError(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := time.Now().Add(-time.Second).UnixMilli()
	for p, n := range map[int32]int{0: 1, 1: 2, 2: 3} {
		for i := 0; i < n; i++ {
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("x")}).FirstErr())
		}
	}

	end, err := List(ctx, cl, "t", End)
	require.NoError(t, err)
	assert.Equal(t, map[int32]int64{0: 1, 1: 2, 2: 3}, end)
	start, err := List(ctx, cl, "t", Earliest)
	require.NoError(t, err)
	assert.Equal(t, map[int32]int64{0: 0, 1: 0, 2: 0}, start)
	byTime, err := List(ctx, cl, "t", before)
	require.NoError(t, err)
	assert.Equal(t, start, byTime, "every record is after the timestamp")

	_, err = List(ctx, cl, "no-such-topic", End)
	assert.Error(t, err)
}
