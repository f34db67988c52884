package publish

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchLane is the buffer of each lane in the Enqueue benchmarks; they
// empty it, with the timer stopped, before it fills.
const benchLane = 1 << 15

// benchPublisher is a Publisher whose batchers do not run, so that the
// benchmarks measure the hand-off alone (gate, lane hash, queue slot,
// counter) and never the refusal path.
func benchPublisher() *Publisher {
	p := &Publisher{lanes: make([]*laneQueue, lanes)}
	for i := range p.lanes {
		p.lanes[i] = newLaneQueue(benchLane)
	}
	return p
}

func (p *Publisher) empty() {
	for _, q := range p.lanes {
		for _, ok := q.pop(); ok; _, ok = q.pop() {
		}
	}
}

// BenchmarkEnqueue measures the log handler's cost of handing over one
// 1 KB event.
func BenchmarkEnqueue(b *testing.B) {
	p := benchPublisher()
	m := event(1, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%benchLane == benchLane-1 {
			b.StopTimer()
			p.empty()
			b.StartTimer()
		}
		if !p.Enqueue(m) {
			b.Fatal("refused")
		}
	}
}

// benchCluster is a 1-broker kfake with the topic seeded, quiet.
func benchCluster(b *testing.B) *kfake.Cluster {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, testTopic))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkPublishThroughput is sustained delivery of 1 KB events with
// acks=all and snappy to an in-process kfake broker (which shares the
// CPUs), reported as events/s; compare BenchmarkBareWriterThroughput.
func BenchmarkPublishThroughput(b *testing.B) {
	c := benchCluster(b)
	p, err := New(Config{Brokers: c.ListenAddrs(), Topic: testTopic})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Close(context.Background()) }()
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = event(i, 1024)
	}
	base := p.Stats().Published
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for !p.Enqueue(msgs[i%len(msgs)]) {
			time.Sleep(50 * time.Microsecond) // buffer full: wait for the batcher, as a sustained rate would
		}
	}
	for p.Stats().Published-base < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	// Refusals while the buffer is full are the back-pressure this loop
	// waits on; anything else would be a real loss.
	s := p.Stats()
	if d := s.DroppedTotal() - s.Dropped[DropBufferFull]; d > 0 {
		b.Fatalf("%d dropped: %v", d, s.Dropped)
	}
}

// BenchmarkBareWriterThroughput is the baseline: kafka-go's Writer alone,
// synchronous WriteMessages of 1000-message slices, same acks, codec,
// broker and events.
func BenchmarkBareWriterThroughput(b *testing.B) {
	c := benchCluster(b)
	w := &kafka.Writer{
		Addr: kafka.TCP(c.ListenAddrs()...), Topic: testTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, Compression: kafka.Snappy,
		BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 500 * time.Microsecond,
	}
	defer w.Close()
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		m := event(i, 1024)
		msgs[i] = kafka.Message{Key: m.Key, Value: m.Value, Headers: []kafka.Header{{Key: "ce_id", Value: []byte(m.ID)}, {Key: "content-type", Value: []byte("application/json")}}}
	}
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := min(len(msgs), b.N-sent)
		if err := w.WriteMessages(context.Background(), msgs[:n]...); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkEndToEndLatency streams 1 KB events at 5 000/s for 2 s per
// iteration and reports the time from Enqueue until a franz-go consumer
// sees the record (p50, p99, max). Run it with -benchtime 1x.
func BenchmarkEndToEndLatency(b *testing.B) {
	c := benchCluster(b)
	p, err := New(Config{Brokers: c.ListenAddrs(), Topic: testTopic})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Close(context.Background()) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(testTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Make sure the consumer is positioned before the stream starts.
	warm, warmed := context.WithTimeout(ctx, 500*time.Millisecond)
	cl.PollFetches(warm)
	warmed()

	const rate, dur = 5000, 2 * time.Second
	var lat []time.Duration
	var mu sync.Mutex
	got := make(chan struct{})
	total := b.N * rate * int(dur/time.Second)
	go func() {
		defer close(got)
		n := 0
		for n < total && ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
				mu.Lock()
				lat = append(lat, now.Sub(sent))
				mu.Unlock()
				n++
			})
		}
	}()
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for sent := 0; sent < total; {
		<-tick.C
		for range rate / 1000 {
			m := event(sent, 1024)
			m.Time = time.Now()
			binary.BigEndian.PutUint64(m.Value, uint64(m.Time.UnixNano()))
			if !p.Enqueue(m) {
				b.Fatal("refused")
			}
			sent++
		}
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		b.Fatal("consumer did not see every record")
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(float64(len(lat)-1)*f)].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
