// Package consumer is the shell around the alert engine: it consumes the
// events topic in a Kafka consumer group, feeds the engine in partition
// order, routes the transitions it returns to receivers (pkg/notify),
// writes block actions to the blocklist topic, and commits offsets.
//
// Delivery guarantee: the offsets of a batch of events are committed only
// after every alert those events produced has been written to the
// blocklist (acks=all) and every receiver has delivered it or given up
// after its retry budget. A crash therefore re-reads, at worst, the events
// since the last commit; their alerts carry the same stable IDs, which
// Alertmanager (by label set) and PagerDuty (by dedup_key) de-duplicate.
// What a restart costs is written in docs/alerting.md.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/notify"
	"github.com/gatewatch/gatewatch/pkg/notify/kafkatopic"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is what Run needs besides the rule set and receivers.
type Config struct {
	Brokers        []string
	Group          string        // consumer group, default "gatewatch-alert"
	EventsTopic    string        // default "gatewatch.events"
	BlocklistTopic string        // default "gatewatch.blocklist"
	FromStart      bool          // a new group starts at the oldest event instead of the newest
	Tick           time.Duration // how often time advances without events; default 250ms
	MaxPoll        int           // records per poll; default 10000
	// DrainTimeout bounds the wait for pending notifications before
	// partitions are given away or the consumer stops; default 10s.
	DrainTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ExtraOpts are appended to the Kafka client options (TLS, SASL, tests).
	ExtraOpts []kgo.Opt
	Log       *slog.Logger
}

func (c *Config) defaults() {
	if c.Group == "" {
		c.Group = "gatewatch-alert"
	}
	if c.EventsTopic == "" {
		c.EventsTopic = "gatewatch.events"
	}
	if c.BlocklistTopic == "" {
		c.BlocklistTopic = "gatewatch.blocklist"
	}
	if c.Tick <= 0 {
		c.Tick = 250 * time.Millisecond
	}
	if c.MaxPoll <= 0 {
		c.MaxPoll = 10_000
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Counters are the consumer's running totals, safe to read concurrently.
type Counters struct {
	Events    atomic.Uint64 // events evaluated
	Invalid   atomic.Uint64 // records that were not events
	Alerts    atomic.Uint64 // transitions produced
	Blocks    atomic.Uint64 // blocklist records written
	Commits   atomic.Uint64 // offset commits
	Assigned  atomic.Int64  // partitions owned now
	Committed atomic.Uint64 // records whose offsets were committed
	Restored  atomic.Uint64 // firing alerts restored from the alerts topic
}

// Consumer is one `gwctl alert` instance.
type Consumer struct {
	cfg    Config
	rs     *alert.RuleSet
	engine *alert.Engine
	cl     *kgo.Client
	pipe   *notify.Pipeline
	kinds  map[string]string // receiver name → type, for annotate routing
	// alertsTopic is the first Kafka receiver's topic, read back by
	// restore; empty when there is none.
	alertsTopic string
	C           Counters

	// ready is closed when New has finished: group callbacks can start
	// as soon as the client exists, before the fields they use are set.
	ready chan struct{}

	commitMu sync.Mutex
	mu       sync.Mutex // guards pending and engine reads from tests
	pending  []pendingBatch
}

// New connects to Kafka and starts the receivers. The client doubles as the
// producer for the blocklist and alerts topics (idempotent, acks=all).
func New(cfg Config, rs *alert.RuleSet, build func(p *kgo.Client) ([]notify.Receiver, error)) (*Consumer, error) {
	cfg.defaults()
	c := &Consumer{cfg: cfg, rs: rs, engine: alert.NewEngine(rs), kinds: map[string]string{}, ready: make(chan struct{})}
	for _, spec := range rs.Receivers {
		c.kinds[spec.Name] = spec.Type
		if spec.Type == TypeKafka && c.alertsTopic == "" {
			var kc kafkatopic.Config
			_ = spec.Node.Decode(&kc) // BuildReceivers validates it
			c.alertsTopic = kc.Topic
			if c.alertsTopic == "" {
				c.alertsTopic = kafkatopic.DefaultTopic
			}
		}
	}
	reset := kgo.NewOffset().AtEnd()
	if cfg.FromStart {
		reset = kgo.NewOffset().AtStart()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.EventsTopic),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.RequireStableFetchOffsets(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Kafka answers a fetch as soon as data arrives; a broker that
		// waits out the maximum instead (kfake, some proxies) must not
		// add seconds to every alert. 500ms is the Java client's default.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			if !c.waitReady(ctx) {
				return
			}
			n, err := c.restore(ctx, m[cfg.EventsTopic])
			if err != nil {
				c.cfg.Log.Warn("could not restore firing alerts; they may fire again", "err", err)
			} else if n > 0 {
				c.cfg.Log.Info("restored firing alerts", "alerts", n)
			}
			c.C.Restored.Add(uint64(n))
			c.C.Assigned.Add(int64(count(m)))
			c.cfg.Log.Debug("partitions assigned", "partitions", m[cfg.EventsTopic], "restored", n)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if !c.waitReady(ctx) {
				return
			}
			c.drain(ctx, cfg.DrainTimeout)
			c.forget(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.mu.Lock()
			c.pending = nil // the new owner re-reads them; nothing to commit
			c.mu.Unlock()
			c.forget(m)
		}),
	}, cfg.ExtraOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("alert consumer: kafka client: %w", err)
	}
	c.cl = cl
	receivers, err := build(cl)
	if err != nil {
		close(c.ready)
		cl.Close()
		return nil, err
	}
	c.pipe = notify.New(cfg.Log, receivers...)
	close(c.ready)
	return c, nil
}

// waitReady blocks a group callback until New has returned.
func (c *Consumer) waitReady(ctx context.Context) bool {
	select {
	case <-c.ready:
		return c.pipe != nil
	case <-ctx.Done():
		return false
	}
}

// forget drops the keys of partitions this instance no longer owns: their
// new owner restores them.
func (c *Consumer) forget(m map[string][]int32) {
	gone := map[int32]bool{}
	for _, p := range m[c.cfg.EventsTopic] {
		gone[p] = true
	}
	c.mu.Lock()
	n := c.engine.Forget(gone)
	c.mu.Unlock()
	c.cfg.Log.Debug("partitions revoked", "partitions", m[c.cfg.EventsTopic], "keys_dropped", n)
	c.C.Assigned.Add(-int64(count(m)))
}

func count(m map[string][]int32) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

// Run consumes until ctx ends, then delivers what is pending (bounded),
// commits and closes.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.close()
	var out []alert.Alert
	var evs []event.Event
	var valid []bool
	lastResend := c.cfg.Now()
	lastStats := lastResend
	resend := c.resendInterval()
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, c.cfg.Tick)
		fs := c.cl.PollRecords(fctx, c.cfg.MaxPoll)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.cfg.Log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		recs := fs.Records()
		out = out[:0]
		c.mu.Lock()
		evs, valid = decodeAll(recs, evs, valid)
		for i := range recs {
			if !valid[i] {
				c.C.Invalid.Add(1)
				continue
			}
			c.C.Events.Add(1)
			out = c.engine.ObserveFrom(&evs[i], recs[i].Partition, out)
		}
		// Wall-clock time moves windows only once the backlog is read, so
		// that a replay is judged by event time.
		caughtUp := len(recs) < c.cfg.MaxPoll
		now := c.cfg.Now()
		if caughtUp {
			out = c.engine.Advance(now, out)
		}
		var reminders []alert.Alert
		if resend > 0 && now.Sub(lastResend) >= resend {
			reminders = c.engine.Firing(nil)
			lastResend = now
		}
		if now.Sub(lastStats) >= StatsInterval {
			c.logStats()
			lastStats = now
		}
		c.mu.Unlock()
		c.C.Alerts.Add(uint64(len(out)))
		for _, a := range out {
			c.cfg.Log.Debug("alert", "status", a.Status, "rule", a.Labels["alertname"], "key", a.GroupKey, "id", a.ID, "value", a.Value, "evicted", a.Evicted)
		}

		// Blocks are written even when ctx has just ended: the events are
		// already evaluated, and their alerts must not be half done.
		bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := c.block(bctx, out)
		bcancel()
		if err != nil {
			// Not committing is the safe failure: the events are re-read.
			c.cl.AllowRebalance()
			return err
		}
		t, err := c.pipe.Enqueue(c.route(out, reminders))
		if err != nil {
			c.cl.AllowRebalance()
			return fmt.Errorf("alert consumer: %w", err)
		}
		if len(recs) > 0 {
			c.mu.Lock()
			c.pending = append(c.pending, pendingBatch{t: t, offsets: offsetsOf(recs), n: len(recs)})
			c.mu.Unlock()
		}
		c.commitDone(ctx)
		c.cl.AllowRebalance()
	}
	return nil
}

// StatsInterval is how often Run logs its counters.
const StatsInterval = time.Minute

// logStats writes the counters operators need to trust the alerts: how
// many events were late or not events at all, and which rules evicted
// keys. The caller holds c.mu.
func (c *Consumer) logStats() {
	c.cfg.Log.Info("alert stats", "events", c.C.Events.Load(), "invalid", c.C.Invalid.Load(), "late", c.engine.Late(),
		"alerts", c.C.Alerts.Load(), "blocks", c.C.Blocks.Load(), "committed", c.C.Committed.Load(), "partitions", c.C.Assigned.Load())
	for _, st := range c.engine.Stats() {
		if st.Evicted > 0 || st.NoKey > 0 {
			c.cfg.Log.Info("alert rule stats", "rule", st.Rule, "keys", st.Keys, "firing", st.Firing,
				"evicted_by_cap", st.Evicted, "evicted_idle", st.IdleEvicts, "no_key", st.NoKey)
		}
	}
}

func (c *Consumer) resendInterval() time.Duration {
	var d time.Duration
	for _, r := range c.pipe.Receivers() {
		if r.Resend > 0 && (d == 0 || r.Resend < d) {
			d = r.Resend
		}
	}
	return d
}

// route decides which receivers get which alerts: a rule's notify list,
// plus every Kafka receiver when the rule annotates; reminders go only to
// receivers that ask for them.
func (c *Consumer) route(transitions, reminders []alert.Alert) map[string][]alert.Alert {
	batch := map[string][]alert.Alert{}
	for _, a := range transitions {
		seen := map[string]bool{}
		for _, name := range a.Rule.Actions.Notify {
			if !seen[name] {
				seen[name] = true
				batch[name] = append(batch[name], a)
			}
		}
		if a.Rule.Actions.Annotate {
			for name, kind := range c.kinds {
				if kind == TypeKafka && !seen[name] {
					seen[name] = true
					batch[name] = append(batch[name], a)
				}
			}
		}
	}
	if len(reminders) > 0 {
		for _, r := range c.pipe.Receivers() {
			if r.Resend <= 0 {
				continue
			}
			for _, a := range reminders {
				for _, name := range a.Rule.Actions.Notify {
					if name == r.Name {
						batch[name] = append(batch[name], a)
					}
				}
			}
		}
	}
	return batch
}

// decodeAll decodes records into evs (reused across polls). JSON decoding
// costs several times more than evaluating the rules, so large batches are
// decoded on every core; evaluation stays sequential, in partition order.
func decodeAll(recs []*kgo.Record, evs []event.Event, valid []bool) ([]event.Event, []bool) {
	n := len(recs)
	if cap(evs) < n {
		evs, valid = make([]event.Event, n), make([]bool, n)
	}
	evs, valid = evs[:n], valid[:n]
	decode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			evs[i] = event.Event{}
			valid[i] = json.Unmarshal(recs[i].Value, &evs[i]) == nil
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if n < 256 || workers == 1 {
		decode(0, n)
		return evs, valid
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			decode(lo, hi)
		}(lo, min(lo+step, n))
	}
	wg.Wait()
	return evs, valid
}

// close delivers and commits what it can in a bounded time, then stops the
// receivers. Batches still undelivered then are abandoned, and their
// offsets stay uncommitted: the next owner re-reads those events.
func (c *Consumer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DrainTimeout+5*time.Second)
	defer cancel()
	c.drain(ctx, c.cfg.DrainTimeout)
	stop, now := context.WithCancel(ctx)
	now() // drained already: stop the receivers at once
	c.pipe.Close(stop)
	c.cl.Close()
}

// Engine runs fn with the engine locked, for tests and status output.
func (c *Consumer) Engine(fn func(*alert.Engine)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.engine)
}

// Pipeline is the notify pipeline, for its counters.
func (c *Consumer) Pipeline() *notify.Pipeline { return c.pipe }
