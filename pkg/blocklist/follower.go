package blocklist

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the compacted topic the blocklist lives in.
const DefaultTopic = "gatewatch.blocklist"

// ErrRecordSkipped wraps what OnError receives for a record that did not
// decode and was skipped.
var ErrRecordSkipped = errors.New("blocklist: record skipped")

// Config says where a Follower reads from and keeps its snapshot. The zero
// value of every field but Brokers works.
type Config struct {
	// Brokers are the Kafka seed brokers (host:port). Required.
	Brokers []string
	// Topic is the blocklist topic. Default DefaultTopic.
	Topic string
	// SnapshotPath is the local file the list is persisted to and loaded
	// from at start, before Kafka is reachable. Empty: no persistence.
	SnapshotPath string
	// SaveEvery bounds how often the snapshot is rewritten while records
	// arrive. Default 1s; the list is also saved once caught up and on exit.
	SaveEvery time.Duration
	// PruneEvery is how often expired entries are dropped from memory (they
	// stop matching at their Until regardless). Default 10s.
	PruneEvery time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnError receives what goes wrong without stopping the follower: a
	// record that does not decode (it is skipped), a fetch error while the
	// brokers are away (the list keeps enforcing what it holds), a failed
	// snapshot write. Calls are serialised and end when Run returns.
	// Default: ignored (Stats still counts them).
	OnError func(error)
	// ClientOpts are added to the Kafka client's options last (TLS, SASL,
	// client id, …).
	ClientOpts []kgo.Opt
}

// Stats counts what a Follower has done.
type Stats struct {
	Records       int64 // records applied (sets and tombstones)
	Rejected      int64 // records that did not decode and were skipped
	FetchErrors   int64
	SnapshotSaves int64
	SnapshotErrs  int64
}

// Follower keeps a List equal to the blocklist topic. It reads every
// partition from the beginning without a consumer group (each gateway needs
// all of the list, and no offsets are committed anywhere), applies records
// and tombstones as they come, and keeps following.
//
// Until it has caught up with the offsets the topic had when it started, it
// enforces the union of its snapshot and what it has read; once caught up,
// the topic alone is the truth, so subjects deleted while this process was
// away (whose tombstones compaction may have removed) stop matching.
type Follower struct {
	cfg   Config
	list  *List
	ready chan struct{}

	records, rejected, fetchErrs, saves, saveErrs atomic.Int64

	// Owned by Run.
	spans   map[int32]span
	next    map[int32]int64
	fresh   map[string]Change // the topic's content, kept only until caught up
	pending []Change          // decoded, not yet published to the list
	// Publishing rebuilds a kind's whole table (tens of milliseconds at
	// 100 000 entries), so a steady trickle of records is published in
	// batches: at most once per 4× the last rebuild, within
	// [minPublishGap, maxPublishGap], so rebuilds take at most a fifth of
	// a core unless they take longer than maxPublishGap/4.
	lastPublish time.Time
	publishGap  time.Duration
	caughtUp    bool
	dirty       bool
	lastSave    time.Time
	runOnce     sync.Once
}

// NewFollower checks cfg and loads the snapshot, if any, into a new List,
// so the list enforces what it last knew before Kafka answers. A snapshot
// that exists but cannot be read is an error (the caller decides whether to
// start without it, by clearing SnapshotPath).
func NewFollower(cfg Config) (*Follower, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("blocklist: follower: brokers: at least one is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = time.Second
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	var errMu sync.Mutex
	onError := cfg.OnError
	cfg.OnError = func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		onError(err)
	}
	f := &Follower{cfg: cfg, list: NewList(), ready: make(chan struct{}), next: map[int32]int64{}, fresh: map[string]Change{}, publishGap: minPublishGap}
	if cfg.SnapshotPath != "" {
		entries, _, err := LoadSnapshot(cfg.SnapshotPath, cfg.Topic)
		if err != nil {
			return nil, err
		}
		if err := f.list.Replace(entries); err != nil {
			return nil, fmt.Errorf("blocklist: snapshot %s: %w", cfg.SnapshotPath, err)
		}
		f.list.Prune(cfg.Now())
	}
	return f, nil
}

// List is the live list the guard matches against.
func (f *Follower) List() *List { return f.list }

// Ready is closed once the follower has read the topic up to the offsets it
// had when Run started. Before that the list holds the snapshot plus what
// has been read so far.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Stats returns the counters so far.
func (f *Follower) Stats() Stats {
	return Stats{Records: f.records.Load(), Rejected: f.rejected.Load(), FetchErrors: f.fetchErrs.Load(),
		SnapshotSaves: f.saves.Load(), SnapshotErrs: f.saveErrs.Load()}
}

// pollWait bounds one wait for records, so that readiness, pruning and
// snapshot saves are looked after even when nothing arrives.
const pollWait = 250 * time.Millisecond

// minPublishGap and maxPublishGap bound the time between two publications
// of the list: a record waits at most maxPublishGap plus one rebuild to be
// enforced, however slow rebuilds get.
const (
	minPublishGap = 50 * time.Millisecond
	maxPublishGap = 200 * time.Millisecond
)

// Run follows the topic until ctx ends, then saves the snapshot once more
// and returns nil. It returns an error only if the Kafka client cannot be
// created (bad options); unreachable brokers are waited for, not fatal.
// Run may be called once.
func (f *Follower) Run(ctx context.Context) error {
	err := errors.New("blocklist: follower: Run called twice")
	f.runOnce.Do(func() { err = f.run(ctx) })
	return err
}

func (f *Follower) run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(f.cfg.Brokers...),
		kgo.ConsumeTopics(f.cfg.Topic), // no group: every partition, directly
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(pollWait),
	}, f.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("blocklist: follower: kafka client: %w", err)
	}
	defer cl.Close()

	spans := make(chan map[int32]span, 1)
	sctx, stopSpans := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.findSpans(sctx, cl, spans) }()
	defer wg.Wait()
	defer stopSpans()

	lastPrune := f.cfg.Now()
	for ctx.Err() == nil {
		wait := pollWait
		if len(f.pending) > 0 {
			wait = max(time.Millisecond, min(wait, f.publishGap-time.Since(f.lastPublish)))
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			f.fetchErrs.Add(1)
			f.cfg.OnError(fmt.Errorf("blocklist: fetch %s[%d]: %w", topic, p, err))
		})
		f.decode(fs)
		select {
		case s := <-spans:
			f.spans = s
		default:
		}
		f.checkCaughtUp()
		if len(f.pending) > 0 && time.Since(f.lastPublish) >= f.publishGap {
			f.publish()
		}
		now := f.cfg.Now()
		if now.Sub(lastPrune) >= f.cfg.PruneEvery {
			lastPrune = now
			if f.list.Prune(now) > 0 {
				f.dirty = true
			}
		}
		if f.dirty && now.Sub(f.lastSave) >= f.cfg.SaveEvery {
			f.save(now)
		}
	}
	if len(f.pending) > 0 {
		f.publish()
	}
	if f.dirty {
		f.save(f.cfg.Now())
	}
	return nil
}

// findSpans asks for the partitions' offsets until it gets them; the
// brokers may be away when the follower starts.
func (f *Follower) findSpans(ctx context.Context, cl *kgo.Client, out chan<- map[int32]span) {
	backoff := 100 * time.Millisecond
	for {
		s, err := partitionSpans(ctx, cl, f.cfg.Topic)
		if err == nil {
			out <- s
			return
		}
		if ctx.Err() != nil {
			return
		}
		f.cfg.OnError(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// decode decodes one poll's records into pending.
func (f *Follower) decode(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) {
		if n := r.Offset + 1; n > f.next[r.Partition] {
			f.next[r.Partition] = n
		}
		c, err := DecodeRecord(r.Key, r.Value)
		if err != nil {
			f.rejected.Add(1)
			f.cfg.OnError(fmt.Errorf("%w: %s[%d]@%d: %w", ErrRecordSkipped, r.Topic, r.Partition, r.Offset, err))
			return
		}
		f.records.Add(1)
		f.pending = append(f.pending, c)
		if !f.caughtUp {
			f.fresh[c.Subject] = c
		}
	})
}

// publish applies pending as one change to the list, so a reader never
// sees part of it.
func (f *Follower) publish() {
	start := time.Now()
	// Changes were validated by DecodeRecord, so Apply cannot refuse them.
	if err := f.list.Apply(f.pending...); err != nil {
		f.cfg.OnError(err)
	}
	f.pending = f.pending[:0]
	f.dirty = true
	f.lastPublish = time.Now()
	f.publishGap = min(maxPublishGap, max(minPublishGap, 4*f.lastPublish.Sub(start)))
}

// checkCaughtUp switches from "snapshot plus topic" to "topic" once every
// partition has been read to where it ended when the follower started.
func (f *Follower) checkCaughtUp() {
	if f.caughtUp || f.spans == nil {
		return
	}
	for p, s := range f.spans {
		if s.start < s.end && f.next[p] < s.end {
			return
		}
	}
	entries := make([]Entry, 0, len(f.fresh))
	for _, c := range f.fresh {
		if !c.Deleted {
			entries = append(entries, c.Entry)
		}
	}
	if err := f.list.Replace(entries); err != nil {
		f.cfg.OnError(err)
	}
	f.list.Prune(f.cfg.Now())
	f.fresh = nil
	f.pending = f.pending[:0] // all in fresh, so all in the list now
	f.caughtUp = true
	f.save(f.cfg.Now())
	close(f.ready)
}

func (f *Follower) save(now time.Time) {
	f.lastSave = now
	f.dirty = false
	if f.cfg.SnapshotPath == "" {
		return
	}
	if err := SaveSnapshot(f.cfg.SnapshotPath, f.cfg.Topic, f.list.Entries(), now); err != nil {
		f.saveErrs.Add(1)
		f.cfg.OnError(err)
		return
	}
	f.saves.Add(1)
}
