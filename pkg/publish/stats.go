package publish

import (
	"time"

	"github.com/gatewatch/gatewatch/pkg/spool"
)

// Reasons a message was dropped, as counted in Stats.Dropped, the
// gatewatch_publish_dropped_total metric and Config.OnDrop.
const (
	DropBufferFull   = "buffer_full"     // Enqueue found the memory buffer full
	DropClosed       = "closed"          // Enqueue after Close
	DropTooLarge     = "too_large"       // one message larger than BatchBytes
	DropRejected     = "rejected"        // the broker refused the message for good (invalid topic, record too large)
	DropCloseTimeout = "close_timeout"   // no spool: still unsent when Close's deadline passed
	DropSpoolError   = "spool_error"     // the spool could not write (disk full, I/O error)
	DropSpoolFull    = spool.DropFull    // spool over MaxBytes: oldest segment dropped
	DropSpoolAge     = spool.DropAge     // spool segment older than MaxAge dropped
	DropSpoolCorrupt = spool.DropCorrupt // torn or corrupt spool record skipped
)

// Indexes of the reasons Enqueue counts, so that it need not search.
const (
	idxBufferFull = iota
	idxClosed
)

var dropReasons = [...]string{
	DropBufferFull, DropClosed, DropTooLarge, DropRejected, DropCloseTimeout,
	DropSpoolError, DropSpoolFull, DropSpoolAge, DropSpoolCorrupt,
}

func reasonIndex(r string) int {
	for i, s := range dropReasons {
		if s == r {
			return i
		}
	}
	return -1
}

// Stats is a snapshot of the publisher's counters.
type Stats struct {
	Enqueued  uint64            // accepted by Enqueue
	Published uint64            // acknowledged by Kafka (directly or from the spool)
	Retried   uint64            // messages sent again after a failed attempt
	Spooled   uint64            // messages written to the spool
	Replayed  uint64            // spooled messages acknowledged by Kafka
	Dropped   map[string]uint64 // lost messages by reason (Drop* constants); only non-zero reasons
	// BufferDepth and BufferCapacity describe the in-memory buffer.
	BufferDepth, BufferCapacity int
	// SpoolBytes and SpoolRecords are what waits on disk (0 without a spool).
	SpoolBytes   int64
	SpoolRecords int64
	// SpoolOldest is the enqueue time of the oldest spooled record (zero if none).
	SpoolOldest time.Time
	// BrokerUp is false from a failed write until a write succeeds again.
	BrokerUp bool
	// LastError is the last failed write's error ("" if none yet), e.g.
	// "SASL Authentication Failed" for a wrong password.
	LastError string
}

// DroppedTotal sums Dropped.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Enqueued:       p.enqueued.Load(),
		Published:      p.published.Load(),
		Retried:        p.retried.Load(),
		Spooled:        p.spooled.Load(),
		Replayed:       p.replayed.Load(),
		Dropped:        map[string]uint64{},
		BufferDepth:    p.depth(),
		BufferCapacity: p.cfg.BufferSize,
		BrokerUp:       !p.down.Load(),
	}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	for i, r := range dropReasons {
		if n := p.dropped[i].Load(); n > 0 {
			s.Dropped[r] = n
		}
	}
	if p.sp != nil {
		st := p.sp.Stats()
		s.SpoolBytes, s.SpoolRecords, s.SpoolOldest = st.Bytes, st.Records, st.Oldest
	}
	return s
}

func (p *Publisher) drop(reason string, n int) {
	if n > 0 {
		p.dropped[reasonIndex(reason)].Add(uint64(n))
	}
}

// spoolDrop receives the spool's own losses (limits, corruption).
func (p *Publisher) spoolDrop(n int, reason string) {
	if reasonIndex(reason) < 0 {
		reason = DropSpoolError
	}
	p.drop(reason, n)
	p.log.Warn("spool dropped records", "records", n, "reason", reason)
}

// reportDrops tells Config.OnDrop about new losses once a second, off the
// Enqueue path, and once more after Close.
func (p *Publisher) reportDrops() {
	defer close(p.reporter)
	var last [len(dropReasons)]uint64
	report := func() {
		for i := range dropReasons {
			n := p.dropped[i].Load()
			if d := n - last[i]; d > 0 {
				last[i] = n
				if p.cfg.OnDrop != nil {
					p.cfg.OnDrop(int(d), dropReasons[i])
				}
			}
		}
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			report()
		case <-p.stop:
			p.done.Wait()
			report()
			return
		}
	}
}
