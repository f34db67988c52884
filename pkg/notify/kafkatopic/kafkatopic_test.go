package kafkatopic

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTransitionsAreProducedKeyedByAlertID(t *testing.T) {
	c := testkafka.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	n := New(Config{}, cl)
	f := alert.Alert{ID: "id-1", Status: alert.Firing, GroupKey: "203.0.113.7", Value: 3, StartsAt: time.Unix(100, 0),
		Labels: map[string]string{"alertname": "brute", "severity": "high"}, Annotations: map[string]string{"summary": "s"}}
	r := f
	r.Status, r.EndsAt = alert.Resolved, time.Unix(200, 0)
	_, err = n.Notify(context.Background(), f, r)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := testkafka.Read(ctx, c.ListenAddrs(), DefaultTopic, testkafka.AtLeast(2))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, recs[0].Partition, recs[1].Partition, "one alert's transitions share a partition, in order")
	var got []Record
	for _, rec := range recs {
		assert.Equal(t, "id-1", string(rec.Key))
		var v Record
		require.NoError(t, json.Unmarshal(rec.Value, &v))
		got = append(got, v)
	}
	assert.Equal(t, "firing", got[0].Status)
	assert.Nil(t, got[0].EndsAt)
	assert.Equal(t, "resolved", got[1].Status)
	require.NotNil(t, got[1].EndsAt)
	assert.Equal(t, int64(200), got[1].EndsAt.Unix())
	assert.Equal(t, "brute", got[1].Rule)
}
