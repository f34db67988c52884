package publish

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gatewatch/gatewatch/internal/testkafka"
)

func TestNewRejectsBadConfigNamingTheField(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "t"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no brokers is refused", func(c *Config) { c.Brokers = nil }, "Brokers"},
		{"a broker without a port is refused", func(c *Config) { c.Brokers = []string{"localhost"} }, "Brokers"},
		{"an empty topic is refused", func(c *Config) { c.Topic = "" }, "Topic"},
		{"an unknown compression is refused", func(c *Config) { c.Compression = "brotli" }, "Compression"},
		{"a negative linger is refused", func(c *Config) { c.Linger = -time.Second }, "Linger"},
		{"a negative buffer is refused", func(c *Config) { c.BufferSize = -1 }, "BufferSize"},
		{"a certificate without its key is refused", func(c *Config) { c.TLS.CertFile = "x.pem" }, "TLS.CertFile"},
		{"an unknown SASL mechanism is refused", func(c *Config) { c.SASL.Mechanism = "gssapi" }, "SASL.Mechanism"},
		{"SASL without a user is refused", func(c *Config) { c.SASL = SASLConfig{Mechanism: "plain", Password: "hunter2"} }, "SASL.Username"},
		{"a missing CA file is refused", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"} }, "TLS.CAFile"},
		{"a bad fsync policy is refused", func(c *Config) { c.Spool = spoolConfig(t.TempDir(), "sometimes") }, "Fsync"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			_, err := New(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
			assert.NotContains(t, err.Error(), "hunter2", "errors never quote the password")
		})
	}
}

func TestRegisteringMetricsTwiceIsAnErrorNotAPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Registerer: reg, CloseTimeout: 10 * time.Millisecond}
	newPublisher(t, cfg)
	_, err := New(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Registerer")
}

func TestWithDefaultsFillsEveryUnsetField(t *testing.T) {
	c := Config{Brokers: []string{"b:1"}, Topic: "t"}.WithDefaults()
	assert.Equal(t, DefaultClientID, c.ClientID)
	assert.Equal(t, "snappy", c.Compression)
	assert.Equal(t, DefaultBatchSize, c.BatchSize)
	assert.Equal(t, DefaultBatchBytes, c.BatchBytes)
	assert.Equal(t, 5*time.Millisecond, c.Linger)
	assert.Equal(t, DefaultBufferSize, c.BufferSize)
	assert.Equal(t, DefaultWriteTimeout, c.WriteTimeout)
	assert.Equal(t, 5*time.Second, c.CloseTimeout)
	assert.Empty(t, c.Spool.Dir, "no spool unless a directory is given")
}

func TestEveryEventArrivesWithEachCompression(t *testing.T) {
	for _, codec := range []string{"snappy", "lz4", "zstd", "gzip", "none"} {
		t.Run(codec+" batches arrive complete", func(t *testing.T) {
			c := startCluster(t)
			cfg := testConfig(c.ListenAddrs())
			cfg.Compression = codec
			p := newPublisher(t, cfg)
			const n = 3000
			for i := range n {
				require.True(t, p.Enqueue(event(i, 200)))
			}
			require.NoError(t, p.Close(context.Background()))
			// kafka-go and kcat (librdkafka) decode the codec too.
			assertEveryID(t, readAll(t, c.ListenAddrs(), n, testkafka.Security{}), eventIDs(0, n))
			s := p.Stats()
			assert.EqualValues(t, n, s.Enqueued)
			assert.EqualValues(t, n, s.Published)
			assert.Zero(t, s.DroppedTotal())
		})
	}
}

func TestMessagesKeepTheirTopicKeyAndHeaders(t *testing.T) {
	c := startCluster(t)
	p := newPublisher(t, testConfig(c.ListenAddrs()))
	m := event(1, 50)
	m.Topic = "gatewatch.other" // auto-created on first write
	require.True(t, p.Enqueue(m))
	require.NoError(t, p.Close(context.Background()))
	seen := readBack(t, c.ListenAddrs(), "gatewatch.other", 1, 20*time.Second)
	assert.Equal(t, 1, seen[m.ID], "a message for a topic that does not exist yet arrives once it is created")
}

func TestCloseFlushesAFullBufferWhileTheBrokerIsUp(t *testing.T) {
	c := startCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.BufferSize = 20000
	p := newPublisher(t, cfg)
	const n = 20000
	for i := range n {
		require.True(t, p.Enqueue(event(i, 100)))
	}
	require.NoError(t, p.Close(context.Background()))
	assert.False(t, p.Enqueue(event(n, 10)), "Enqueue after Close is refused")
	assert.EqualValues(t, 1, p.Stats().Dropped[DropClosed])
	assertEveryID(t, readAll(t, c.ListenAddrs(), n, testkafka.Security{}), eventIDs(0, n))
}

func TestTransientBrokerErrorsAreRetried(t *testing.T) {
	tests := []struct {
		name  string
		fault func(c *kfake.Cluster)
	}{
		{"NOT_LEADER_OR_FOLLOWER on produce is retried", func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: 5})
		}},
		{"REQUEST_TIMED_OUT on produce is retried", func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: 5})
		}},
		{"a dropped connection during produce is retried", func(c *kfake.Cluster) {
			dropConnections(c, kmsg.Produce, 3)
		}},
		{"UNKNOWN_TOPIC_OR_PARTITION on metadata (auto-creation lag) is retried", func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Err: kerr.UnknownTopicOrPartition, Count: 2})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCluster(t)
			cfg := testConfig(c.ListenAddrs())
			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			p := newPublisher(t, cfg)
			tt.fault(c)
			const n = 2000
			for i := range n {
				require.True(t, p.Enqueue(event(i, 100)))
				if i%200 == 0 {
					time.Sleep(2 * time.Millisecond) // several batches, several faults
				}
			}
			require.NoError(t, p.Close(context.Background()))
			assertEveryID(t, readAll(t, c.ListenAddrs(), n, testkafka.Security{}), eventIDs(0, n))
			assert.Zero(t, p.Stats().DroppedTotal())
			assert.EqualValues(t, n, metricValue(t, reg, "gatewatch_publish_published_total"), "published counts each event once here")
		})
	}
}

func TestEnqueueRefusesWhenTheBufferIsFull(t *testing.T) {
	// No broker listens: the batcher holds one batch and retries; the rest
	// fills the buffer.
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, Topic: "t", BufferSize: 10, BatchSize: 5, CloseTimeout: 200 * time.Millisecond}
	p, err := New(cfg)
	require.NoError(t, err)
	accepted := 0
	for i := range 100 {
		if p.Enqueue(event(i, 10)) {
			accepted++
		}
	}
	assert.LessOrEqual(t, accepted, 20)
	s := p.Stats()
	assert.EqualValues(t, 100-accepted, s.Dropped[DropBufferFull])
	err = p.Close(context.Background())
	require.Error(t, err, "without a spool, Close says that events were lost")
	assert.Contains(t, err.Error(), "lost")
	s = p.Stats()
	assert.EqualValues(t, accepted, s.Dropped[DropCloseTimeout], "every accepted event is counted as lost at close")
}

func TestOversizedMessagesAreDroppedAndCounted(t *testing.T) {
	c := startCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.BatchBytes = 4096
	p := newPublisher(t, cfg)
	require.True(t, p.Enqueue(event(0, 10000)))
	require.True(t, p.Enqueue(event(1, 100)))
	require.NoError(t, p.Close(context.Background()))
	s := p.Stats()
	assert.EqualValues(t, 1, s.Dropped[DropTooLarge])
	assert.EqualValues(t, 1, s.Published)
}

func TestAnInvalidTopicIsRejectedWithoutHoldingUpOthers(t *testing.T) {
	tests := []struct {
		name  string
		fault kfake.Fault
	}{
		{"refused in the produce answer", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "bad.topic", Err: kerr.InvalidTopicException, Count: -1}},
		{"refused in the metadata answer", kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "bad.topic", Err: kerr.InvalidTopicException, Count: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCluster(t, kfake.SeedTopics(1, "bad.topic"))
			c.Fault(tt.fault)
			p := newPublisher(t, testConfig(c.ListenAddrs()))
			bad := event(0, 10)
			bad.Topic = "bad.topic"
			require.True(t, p.Enqueue(bad))
			time.Sleep(50 * time.Millisecond)
			for i := 1; i <= 10; i++ {
				require.True(t, p.Enqueue(event(i, 10)))
			}
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.EqualValues(t, 1, s.Dropped[DropRejected], "stats %+v", s)
			seen := readBack(t, c.ListenAddrs(), testTopic, 10, 20*time.Second)
			assert.Len(t, seen, 10)
		})
	}
}

func TestMetricsAreExported(t *testing.T) {
	c := startCluster(t)
	cfg := testConfig(c.ListenAddrs())
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	p := newPublisher(t, cfg)
	for i := range 10 {
		p.Enqueue(event(i, 10))
	}
	require.NoError(t, p.Close(context.Background()))
	names := []string{
		"gatewatch_publish_enqueued_total", "gatewatch_publish_published_total", "gatewatch_publish_retried_total",
		"gatewatch_publish_spooled_total", "gatewatch_publish_replayed_total", "gatewatch_publish_dropped_total",
		"gatewatch_publish_buffer_depth", "gatewatch_spool_bytes", "gatewatch_spool_oldest_age_seconds",
		"gatewatch_publish_latency_seconds", "gatewatch_publish_broker_up",
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, n := range names {
		assert.True(t, have[n], n)
	}
	assert.EqualValues(t, 10, metricValue(t, reg, "gatewatch_publish_published_total"))
	assert.EqualValues(t, 10, metricValue(t, reg, "gatewatch_publish_enqueued_total"))
}
