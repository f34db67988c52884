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
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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
