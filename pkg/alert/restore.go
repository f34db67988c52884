package alert

import (
	"maps"
	"time"
)

// Restored is an alert that was firing when a previous instance stopped,
// as recorded on the alerts topic.
type Restored struct {
	ID, Rule, GroupKey string
	StartsAt           time.Time
	Labels             map[string]string
	Annotations        map[string]string
	Value              float64
	Source             int32
}

// Restore re-creates a firing alert after a restart, so that the restarted
// engine neither fires it again (a second page on receivers that do not
// de-duplicate) nor forgets to resolve it. The restored key's window is
// empty: it is held firing for one window from now, the time the re-read
// events need to refill it, and then resolves as usual if the threshold is
// no longer met. It reports false, and does nothing, when the rule no
// longer exists, the ID does not match the rule and key (the rule's
// grouping changed), or the key is already tracked.
func (e *Engine) Restore(r Restored, now time.Time) bool {
	for _, st := range e.rules {
		if st.r.Name != r.Rule {
			continue
		}
		if AlertID(r.Rule, r.GroupKey) != r.ID || st.keys[r.GroupKey] != nil {
			return false
		}
		// The hold is measured from now without moving event time: a
		// backlog read after the restart must not become late.
		n := max(now.UnixNano(), e.watermark)
		k := newKeyState(r.GroupKey, st.r)
		k.lastSeen, k.source = n, r.Source
		k.state, k.holdUntil = phaseFiring, n+int64(st.r.Window)
		k.alert = &Alert{
			ID: r.ID, Rule: st.r, Status: Firing, GroupKey: r.GroupKey,
			Labels: maps.Clone(r.Labels), Annotations: maps.Clone(r.Annotations),
			StartsAt: r.StartsAt.UTC(), Value: r.Value, Source: r.Source,
		}
		st.keys[k.key] = k
		st.order.pushFront(k)
		st.active[k] = struct{}{}
		st.stats.Firing++
		return true
	}
	return false
}

// Forget drops, without any transition, every key whose last event came
// from one of sources, in rules grouped by client.ip: used when those Kafka
// partitions move to another instance, which takes the keys (and their
// firing alerts, through Restore) over. Keys of other rules are kept: their
// events come from every partition. It returns how many keys it dropped.
func (e *Engine) Forget(sources map[int32]bool) int {
	n := 0
	for _, st := range e.rules {
		if !st.r.KeyedByClientIP() {
			continue
		}
		for _, k := range st.keys {
			if !sources[k.source] {
				continue
			}
			if k.state == phaseFiring {
				st.stats.Firing--
			}
			delete(st.active, k)
			st.order.remove(k)
			delete(st.keys, k.key)
			n++
		}
	}
	return n
}

// KeyedByClientIP reports whether the rule groups by client.ip (alone or
// with other fields): all events of one key then come from one partition
// of the events topic, which is keyed by client IP.
func (r *Rule) KeyedByClientIP() bool {
	for _, g := range r.GroupBy {
		if g == "client.ip" {
			return true
		}
	}
	return false
}
