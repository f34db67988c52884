package publish

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/spool"
)

const testTopic = "gatewatch.events"

// startCluster runs an in-process kfake broker on 127.0.0.1 with the test
// topic seeded (3 partitions).
func startCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	all := append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, testTopic), kfake.AllowAutoTopicCreation()}, opts...)
	c, err := kfake.NewCluster(all...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func testConfig(brokers []string) Config {
	return Config{
		Brokers:      brokers,
		Topic:        testTopic,
		WriteTimeout: 3 * time.Second,
		CloseTimeout: 10 * time.Second,
	}
}

func newPublisher(t testing.TB, c Config) *Publisher {
	t.Helper()
	p, err := New(c)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// event builds message i: its id in a CloudEvents header and in the value,
// so that a reader can reconcile by id.
func event(i int, size int) Message {
	id := fmt.Sprintf("ev-%07d", i)
	v := make([]byte, size)
	copy(v, id)
	for j := len(id); j < size; j++ {
		v[j] = 'a' + byte(j%26)
	}
	return Message{
		Key:     []byte(fmt.Sprintf("10.0.%d.%d", i/250%250, i%250)),
		Value:   v,
		Headers: []Header{{Key: "ce_id", Value: []byte(id)}, {Key: "content-type", Value: []byte("application/json")}},
		ID:      id,
		Time:    time.Now(),
	}
}

// readBack consumes topic from the start until every id in want was seen
// (or timeout) and returns how often each id arrived.
func readBack(t testing.TB, brokers []string, topic string, want int, timeout time.Duration, opts ...kgo.Opt) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for len(seen) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "ce_id" {
					seen[string(h.Value)]++
				}
			}
		})
	}
	return seen
}

// eventIDs are the ids of event(i) for i in [from, to).
func eventIDs(from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("ev-%07d", i))
	}
	return out
}

// readers are the independent clients that read a topic back: franz-go
// (until it has seen the ids wanted), and kafka-go and kcat (librdkafka),
// which both read every partition from its first offset to its end.
var readers = []string{"franz-go", "kafka-go", "kcat"}

// readAll reads testTopic back with every reader, over sec, and returns
// what each saw. wantDistinct is how many distinct ids franz-go waits
// for. kafka-go and kcat must agree on the number of records per
// partition, and every record must carry its id.
func readAll(t testing.TB, brokers []string, wantDistinct int, sec testkafka.Security) map[string]testkafka.IDs {
	t.Helper()
	kopts, err := sec.KgoOpts()
	require.NoError(t, err)
	start := time.Now()
	got := map[string]testkafka.IDs{"franz-go": {Count: readBack(t, brokers, testTopic, wantDistinct, 60*time.Second, kopts...)}}
	took := []any{"franz-go", time.Since(start).Round(time.Millisecond)}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start = time.Now()
	kg, err := testkafka.ReadIDsKafkaGo(ctx, brokers, testTopic, sec)
	require.NoError(t, err, "kafka-go read back")
	got["kafka-go"] = kg
	took = append(took, "kafka-go", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	kc, err := testkafka.ReadIDsKcat(ctx, brokers, testTopic, sec)
	require.NoError(t, err, "kcat read back")
	got["kcat"] = kc
	took = append(took, "kcat", time.Since(start).Round(time.Millisecond))

	assert.Equal(t, kg.Partitions, kc.Partitions, "kafka-go and kcat read the same records per partition")
	assert.Zero(t, kg.NoID, "every record has a %s header (kafka-go)", testkafka.IDHeader)
	assert.Zero(t, kc.NoID, "every record has a %s header (kcat)", testkafka.IDHeader)
	t.Logf("read back %d records (%d distinct ids) per partition %v; took %v", kg.Records, len(kg.Count), kg.Partitions, took)
	return got
}

// assertEveryID checks that every reader saw each id of want at least once.
func assertEveryID(t testing.TB, got map[string]testkafka.IDs, want []string) {
	t.Helper()
	for _, r := range readers {
		ids, ok := got[r]
		if assert.True(t, ok, "%s read back", r) {
			assert.Empty(t, ids.Missing(want, 10), "%s: every id arrived at least once (first missing shown)", r)
		}
	}
	if kg := got["kafka-go"]; kg.Records > len(kg.Count) {
		t.Logf("%d duplicates (at-least-once retries and replays)", kg.Records-len(kg.Count))
	}
}

// missing lists the ids in [0, n) that seen lacks (at most 10).
func missing(seen map[string]int, n int) []string {
	var out []string
	for i := 0; i < n && len(out) < 10; i++ {
		if id := fmt.Sprintf("ev-%07d", i); seen[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

var errDropped = fmt.Errorf("test: connection dropped")

func spoolConfig(dir, fsync string) spool.Config {
	return spool.Config{Dir: dir, Fsync: fsync}
}

// metricValue sums the samples of a counter or gauge named name.
func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

// dropConnections makes the broker close the connection of the next n
// requests of key instead of answering them.
func dropConnections(c *kfake.Cluster, key kmsg.Key, n int) {
	c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if n == 0 {
			c.DropControl()
			return nil, nil, false
		}
		n--
		return nil, errDropped, true
	})
}

// metricValueLabel is the value of the sample of name whose label has value.
func metricValueLabel(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, nil))
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
