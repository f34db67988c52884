package blocklist

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testkafka"
)

// producer writes blocklist records the way gwctl and the alert engine do.
type producer struct {
	t  *testing.T
	cl *kgo.Client
}

func newProducer(t *testing.T, brokers []string) producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(DefaultTopic))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return producer{t: t, cl: cl}
}

func (p producer) put(subject string, until time.Time) {
	p.t.Helper()
	e := Entry{Subject: subject, Until: until, Reason: "test", Source: "operator", CreatedBy: "follower_test", CreatedAt: time.Now()}
	v, err := EncodeValue(e)
	require.NoError(p.t, err)
	p.raw(subject, v)
}

func (p producer) raw(key string, value []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(p.t, p.cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: value}).FirstErr())
}

func (p producer) remove(subject string) { p.t.Helper(); p.raw(subject, nil) }

// errs collects what a follower reports through OnError.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) { e.mu.Lock(); e.list = append(e.list, err); e.mu.Unlock() }

// startFollower runs a follower until the test ends (or stop is called)
// and returns it with a function that stops it and waits for Run to return.
func startFollower(t *testing.T, cfg Config) (*Follower, func()) {
	t.Helper()
	f, err := NewFollower(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("follower did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return f, stop
}

func waitReady(t *testing.T, f *Follower) {
	t.Helper()
	select {
	case <-f.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("follower not ready within 10s")
	}
}

func blocked(l *List, ip string) bool {
	_, ok := l.Match(netip.MustParseAddr(ip), "", "", time.Now())
	return ok
}

func TestFollowerEnforcesAddsAndRemovesWithinASecond(t *testing.T) {
	c := testkafka.Start(t)
	p := newProducer(t, c.ListenAddrs())
	f, _ := startFollower(t, Config{Brokers: c.ListenAddrs()})
	waitReady(t, f)
	require.False(t, blocked(f.List(), "203.0.113.7"))

	p.put("ip:203.0.113.7", time.Now().Add(2*time.Minute))
	assert.Eventually(t, func() bool { return blocked(f.List(), "203.0.113.7") }, time.Second, 10*time.Millisecond,
		"an added IP must be enforced within 1s")

	p.remove("ip:203.0.113.7")
	assert.Eventually(t, func() bool { return !blocked(f.List(), "203.0.113.7") }, time.Second, 10*time.Millisecond,
		"a removed IP must stop being enforced within 1s")
	assert.Zero(t, f.List().Kinds(), "an emptied list must not ask the guard for the client IP")
}

func TestFollowerReadsEveryPartitionFromTheStart(t *testing.T) {
	c := testkafka.Start(t)
	p := newProducer(t, c.ListenAddrs())
	until := time.Now().Add(time.Hour)
	var subjects []string
	for i := 1; i <= 30; i++ { // spread by key over the 3 partitions
		s := "ip:198.51.100." + itoa(i)
		subjects = append(subjects, s)
		p.put(s, until)
	}
	p.put("cidr:192.0.2.0/24", until)
	p.put("consumer:mallory", until)
	p.put("ip:198.51.100.30", time.Now().Add(-time.Minute)) // a later record that has expired
	p.remove("ip:198.51.100.29")
	p.raw("ip:not-an-ip", []byte(`{}`))                    // rejected, counted, skipped
	p.raw("ip:198.51.100.200", []byte(`{"subject":"ip:1`)) // truncated JSON

	var reported errs
	f, _ := startFollower(t, Config{Brokers: c.ListenAddrs(), OnError: reported.add})
	waitReady(t, f) // ready means everything written above is applied
	l := f.List()
	for _, s := range subjects[:28] {
		assert.True(t, blocked(l, s[len("ip:"):]), "%s must be blocked", s)
	}
	assert.False(t, blocked(l, "198.51.100.29"), "a tombstone removes the subject")
	assert.False(t, blocked(l, "198.51.100.30"), "the latest record wins, and it has expired")
	assert.True(t, blocked(l, "192.0.2.77"))
	_, ok := l.Match(netip.Addr{}, "mallory", "", time.Now())
	assert.True(t, ok)
	assert.Equal(t, KindIP|KindCIDR|KindConsumer, l.Kinds())
	assert.EqualValues(t, 2, f.Stats().Rejected)
	reported.mu.Lock()
	defer reported.mu.Unlock()
	require.Len(t, reported.list, 2)
	assert.ErrorContains(t, reported.list[0], "gatewatch.blocklist[")
}

func TestFollowerIsReadyOnAnEmptyTopic(t *testing.T) {
	c := testkafka.Start(t)
	f, _ := startFollower(t, Config{Brokers: c.ListenAddrs()})
	waitReady(t, f)
	assert.Zero(t, f.List().Matcher().Len())
}

func TestFollowerRestartedWithoutKafkaEnforcesItsSnapshot(t *testing.T) {
	c := testkafka.Start(t)
	brokers := c.ListenAddrs()
	p := newProducer(t, brokers)
	snap := filepath.Join(t.TempDir(), "blocklist.json")
	p.put("ip:203.0.113.7", time.Now().Add(time.Hour))
	p.put("cidr:2001:db8::/32", time.Now().Add(time.Hour))

	f1, stop1 := startFollower(t, Config{Brokers: brokers, SnapshotPath: snap, SaveEvery: 10 * time.Millisecond})
	waitReady(t, f1)
	require.True(t, blocked(f1.List(), "203.0.113.7"))
	stop1()
	c.Close() // Kafka is gone for good

	var reported errs
	f2, _ := startFollower(t, Config{Brokers: brokers, SnapshotPath: snap, OnError: reported.add})
	assert.True(t, blocked(f2.List(), "203.0.113.7"), "the snapshot is enforced before Kafka answers")
	assert.True(t, blocked(f2.List(), "2001:db8:1::1"))
	assert.False(t, blocked(f2.List(), "203.0.113.8"))
	time.Sleep(600 * time.Millisecond) // a few polls against the dead broker
	assert.True(t, blocked(f2.List(), "203.0.113.7"), "still enforced while Kafka stays away")
	select {
	case <-f2.Ready():
		t.Fatal("a follower that never reached Kafka must not say it is ready")
	default:
	}
}

func TestFollowerDropsSnapshotEntriesTheTopicNoLongerHolds(t *testing.T) {
	// A subject removed while this gateway was down may have lost its
	// tombstone to compaction: once caught up, the topic is the truth.
	c := testkafka.Start(t)
	p := newProducer(t, c.ListenAddrs())
	p.put("ip:203.0.113.9", time.Now().Add(time.Hour))
	snap := filepath.Join(t.TempDir(), "blocklist.json")
	stale := Entry{Subject: "ip:203.0.113.7", Kind: KindIP, Until: time.Now().Add(time.Hour), Status: DefaultStatus, CreatedAt: time.Now()}
	require.NoError(t, SaveSnapshot(snap, DefaultTopic, []Entry{stale}, time.Now()))

	f, err := NewFollower(Config{Brokers: c.ListenAddrs(), SnapshotPath: snap})
	require.NoError(t, err)
	require.True(t, blocked(f.List(), "203.0.113.7"), "before Kafka answers, the snapshot holds")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitReady(t, f)
	assert.False(t, blocked(f.List(), "203.0.113.7"))
	assert.True(t, blocked(f.List(), "203.0.113.9"))
	cancel()
	require.NoError(t, <-done)

	saved, ok, err := LoadSnapshot(snap, DefaultTopic)
	require.NoError(t, err)
	require.True(t, ok)
	require.Len(t, saved, 1)
	assert.Equal(t, "ip:203.0.113.9", saved[0].Subject)
}

func TestNewFollowerRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, writeFile(bad, `{"version":1,"topic":"gatewatch.blocklist","entries":[{"subject":"ip:1.2.3.999"}]}`))
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no brokers", cfg: Config{}, want: "brokers"},
		{name: "a snapshot with a bad entry", cfg: Config{Brokers: []string{"127.0.0.1:1"}, SnapshotPath: bad}, want: "entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFollower(tt.cfg)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestFollowerIsReadyOnlyOnceEveryPartitionIsReadToItsStartingEnd(t *testing.T) {
	tests := []struct {
		name  string
		spans map[int32]span
		next  map[int32]int64
		ready bool
	}{
		{name: "unknown ends are not ready", spans: nil, ready: false},
		{name: "empty partitions are ready at once", spans: map[int32]span{0: {0, 0}, 1: {0, 0}}, ready: true},
		{name: "a partition whose records were all deleted is ready", spans: map[int32]span{0: {10, 10}}, ready: true},
		{name: "one record short of the end is not ready", spans: map[int32]span{0: {0, 5}, 1: {0, 3}}, next: map[int32]int64{0: 4, 1: 3}, ready: false},
		{name: "one partition not read at all is not ready", spans: map[int32]span{0: {0, 5}, 1: {0, 3}}, next: map[int32]int64{0: 5}, ready: false},
		{name: "every partition at its end is ready", spans: map[int32]span{0: {0, 5}, 1: {0, 3}}, next: map[int32]int64{0: 5, 1: 3}, ready: true},
		{name: "reading past the starting end is ready", spans: map[int32]span{0: {2, 5}}, next: map[int32]int64{0: 9}, ready: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFollower(Config{Brokers: []string{"127.0.0.1:1"}})
			require.NoError(t, err)
			f.spans = tt.spans
			if tt.next != nil {
				f.next = tt.next
			}
			f.checkCaughtUp()
			select {
			case <-f.Ready():
				assert.True(t, tt.ready, "ready too early")
			default:
				assert.False(t, tt.ready, "not ready")
			}
		})
	}
}

func TestFollowerEnforcesAnAddWithinASecondOnALargeList(t *testing.T) {
	// The race detector makes rebuilding a table ten times slower; the
	// second is a production budget, so under -race the list is smaller.
	n := 50_000
	if raceEnabled {
		n = 5_000
	}
	t.Logf("%d entries (race detector: %v)", n, raceEnabled)
	c := testkafka.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(DefaultTopic))
	require.NoError(t, err)
	defer cl.Close()
	until := time.Now().Add(time.Hour)
	recs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		subject := "ip:10." + itoa(i>>16&255) + "." + itoa(i>>8&255) + "." + itoa(i&255)
		v, err := EncodeValue(Entry{Subject: subject, Until: until, Source: "alert", CreatedAt: time.Now()})
		require.NoError(t, err)
		recs = append(recs, &kgo.Record{Key: []byte(subject), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	f, _ := startFollower(t, Config{Brokers: c.ListenAddrs()})
	waitReady(t, f)
	require.Equal(t, n, f.List().Matcher().Len())

	// A trickle of other blocks keeps the follower rebuilding while the one
	// we time arrives.
	p := newProducer(t, c.ListenAddrs())
	for i := 0; i < 5; i++ {
		p.put("ip:192.0.2."+itoa(i), until)
		start := time.Now()
		assert.Eventually(t, func() bool { return blocked(f.List(), "192.0.2."+itoa(i)) }, time.Second, 5*time.Millisecond,
			"add %d to a %d-entry list enforced within 1s", i, n)
		t.Logf("add %d enforced after %v", i, time.Since(start))
	}
}
