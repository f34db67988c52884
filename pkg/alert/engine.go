// Package alert turns gatewatch security events into alerts: it parses and
// validates the rule file (every error names file, line and field) and
// evaluates rules over sliding windows per group key.
//
// The evaluation core is pure and single-threaded: it is given events and
// times and returns alert transitions; it reads no clock, does no I/O and
// keeps no goroutines. Its guarantees:
//   - windows are in event time: an event counts in the buckets of its own
//     time, whatever order it arrives in, as long as it is no older than the
//     newest event time minus the rule set's lateness (older ones are
//     dropped and counted in Stats.Late);
//   - memory is bounded: at most MaxKeys group keys per rule, each holding
//     one counter per bucket (plus at most threshold distinct values for
//     distinct thresholds); the least recently seen key is evicted when a
//     new one would exceed the cap, idle keys are evicted when their window
//     empties, and both are counted;
//   - an alert's ID is a function of rule name and group key only, so the
//     same incident has the same ID across restarts and instances (it is
//     the dedup key notifiers use).
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// Status is an alert's state in a transition.
type Status string

// Alert statuses.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Alert is one rule firing for one group key.
type Alert struct {
	// ID is the stable dedup key: hex of SHA-256(rule name, group key),
	// first 16 bytes.
	ID          string
	Rule        *Rule
	Status      Status
	GroupKey    string
	Labels      map[string]string
	Annotations map[string]string // summary, description, runbook_url
	// StartsAt is the event time the alert fired at; EndsAt the event time
	// it resolved at (zero while firing).
	StartsAt time.Time
	EndsAt   time.Time
	Value    float64
	// Evicted is set on a resolution caused by the key cap, not by the
	// window: the attack may be ongoing.
	Evicted bool
	// Source is the caller's tag of the last event counted for this key
	// (gwctl alert: the Kafka partition it came from); -1 when unknown.
	Source int32
}

// AlertID is the dedup key for rule and group key.
func AlertID(rule, key string) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Stats counts what the engine dropped or evicted, per rule.
type Stats struct {
	Rule       string
	Keys       int    // group keys tracked now
	Firing     int    // alerts firing now
	Evicted    uint64 // keys evicted by the cap while they had state
	IdleEvicts uint64 // keys evicted because their window emptied
	NoKey      uint64 // matching events without a value for group_by
}

// Engine evaluates a rule set. It is not safe for concurrent use: one
// engine per consumer, fed in partition order.
type Engine struct {
	rs     *RuleSet
	rules  []*ruleState
	byType [16][]*ruleState
	typeIx map[event.Type]int

	watermark int64 // newest event time seen or advanced to, unix ns
	wall      int64 // last Advance time: events further ahead are clamped
	late      uint64
	invalid   uint64
}

type ruleState struct {
	r      *Rule
	keys   map[string]*keyState
	order  lru
	active map[*keyState]struct{} // pending or firing
	stats  Stats
}

// NewEngine prepares rs for evaluation.
func NewEngine(rs *RuleSet) *Engine {
	e := &Engine{rs: rs, typeIx: map[event.Type]int{}}
	for i, t := range event.Types {
		e.typeIx[t] = i
	}
	for _, r := range rs.Rules {
		st := &ruleState{r: r, keys: map[string]*keyState{}, active: map[*keyState]struct{}{}, stats: Stats{Rule: r.Name}}
		e.rules = append(e.rules, st)
		for i, t := range event.Types {
			bit := typeBit[t]
			if r.Match.types&bit != 0 || (r.Threshold.Kind == ThresholdRatio && r.Threshold.Of.types&bit != 0) {
				e.byType[i] = append(e.byType[i], st)
			}
		}
	}
	return e
}

// Watermark is the engine's current event time.
func (e *Engine) Watermark() time.Time { return time.Unix(0, e.watermark).UTC() }

// Late is how many events arrived later than the lateness allowance.
func (e *Engine) Late() uint64 { return e.late }

// Observe evaluates one event and appends the transitions it caused to out.
func (e *Engine) Observe(ev *event.Event, out []Alert) []Alert {
	return e.ObserveFrom(ev, -1, out)
}

// ObserveFrom is Observe with a source tag (the Kafka partition) that the
// key remembers, so that alerts and Forget can say where a key's events
// come from.
func (e *Engine) ObserveFrom(ev *event.Event, source int32, out []Alert) []Alert {
	ti, ok := e.typeIx[ev.Type]
	if !ok || ev.Time.Year() < 2000 || ev.Time.Year() > 9999 {
		e.invalid++
		return out
	}
	t := ev.Time.UnixNano()
	if e.wall != 0 && t > e.wall+int64(e.rs.Lateness) {
		t = e.wall // a clock far ahead must not push every other event out as late
	}
	if t < e.watermark-int64(e.rs.Lateness) {
		e.late++
		return out
	}
	if t > e.watermark {
		e.watermark = t
	}
	for _, st := range e.byType[ti] {
		out = st.observe(ev, source, t, e.watermark, e.rs.MaxKeys, out)
	}
	return out
}

func (st *ruleState) observe(ev *event.Event, source int32, t, now int64, maxKeys int, out []Alert) []Alert {
	r := st.r
	num := r.Match.Matches(ev)
	den := r.Threshold.Kind == ThresholdRatio && r.Threshold.Of.Matches(ev)
	if !num && !den {
		return out
	}
	key, ok := groupKey(r, ev)
	if !ok {
		st.stats.NoKey++
		return out
	}
	k := st.keys[key]
	if k == nil {
		if len(st.keys) >= maxKeys {
			out = st.evict(st.order.back, now, true, out)
		}
		k = newKeyState(strings.Clone(key), r)
		st.keys[k.key] = k
		st.order.pushFront(k)
	} else {
		st.order.touch(k)
	}
	res := int64(r.Resolution)
	b := t / res
	i := k.slot(b)
	if i < 0 {
		return out // older than this key's window: cannot change its value
	}
	if num {
		k.counts[i]++
		if r.Threshold.Kind == ThresholdDistinct {
			if v := r.Threshold.fieldGet(ev); v != "" {
				k.addDistinct(v, b, int(r.Threshold.Value))
			}
		}
	}
	if den {
		k.totals[i]++
	}
	if t > k.lastSeen {
		k.lastSeen = t
	}
	k.source = source
	if k.alert != nil {
		k.alert.Source = source
	}
	return st.evaluate(k, now, ev, out)
}

func groupKey(r *Rule, ev *event.Event) (string, bool) {
	switch len(r.groupGet) {
	case 0:
		return "", true
	case 1:
		v := r.groupGet[0](ev)
		return v, v != ""
	}
	var b strings.Builder
	for i, g := range r.groupGet {
		v := g(ev)
		if v == "" {
			return "", false
		}
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// value is the key's window value at now and whether it meets the
// threshold.
func (st *ruleState) value(k *keyState, now int64) (float64, bool) {
	r := st.r
	nb := now / int64(r.Resolution)
	switch r.Threshold.Kind {
	case ThresholdDistinct:
		v := float64(k.countDistinct(nb))
		return v, v >= r.Threshold.Value
	case ThresholdRatio:
		total := k.sum(k.totals, nb)
		if total == 0 {
			return 0, false
		}
		v := float64(k.sum(k.counts, nb)) / float64(total)
		return v, total >= uint64(r.Threshold.MinTotal) && v >= r.Threshold.Value
	}
	v := float64(k.sum(k.counts, nb))
	return v, v >= r.Threshold.Value
}

func (st *ruleState) evaluate(k *keyState, now int64, ev *event.Event, out []Alert) []Alert {
	r := st.r
	v, over := st.value(k, now)
	switch k.state {
	case phaseInactive:
		if !over {
			return out
		}
		k.state, k.pendingSince = phasePending, now
		st.active[k] = struct{}{}
		fallthrough
	case phasePending:
		if !over {
			k.state = phaseInactive
			delete(st.active, k)
			return out
		}
		if now-k.pendingSince >= int64(r.For) {
			k.state, k.belowSince = phaseFiring, 0
			k.alert = st.newAlert(k, now, v, ev)
			st.stats.Firing++
			out = append(out, *k.alert)
		}
	case phaseFiring:
		k.alert.Value = v
		if over {
			k.belowSince = 0
			return out
		}
		if now < k.holdUntil {
			return out // restored: the window is still refilling (Restore)
		}
		if k.belowSince == 0 {
			k.belowSince = now
		}
		if now-k.belowSince >= int64(r.ResolveAfter) {
			out = st.resolve(k, now, false, out)
		}
	}
	return out
}

func (st *ruleState) resolve(k *keyState, now int64, evicted bool, out []Alert) []Alert {
	a := *k.alert
	a.Status, a.EndsAt, a.Evicted = Resolved, time.Unix(0, now).UTC(), evicted
	k.state, k.alert = phaseInactive, nil
	delete(st.active, k)
	st.stats.Firing--
	return append(out, a)
}

func (st *ruleState) evict(k *keyState, now int64, capped bool, out []Alert) []Alert {
	if k.state == phaseFiring {
		out = st.resolve(k, now, true, out)
	}
	delete(st.active, k)
	st.order.remove(k)
	delete(st.keys, k.key)
	if capped {
		st.stats.Evicted++
	} else {
		st.stats.IdleEvicts++
	}
	return out
}

func (st *ruleState) newAlert(k *keyState, now int64, v float64, ev *event.Event) *Alert {
	r := st.r
	labels := make(map[string]string, len(r.Labels)+len(r.GroupBy)+3)
	maps.Copy(labels, r.Labels)
	// A "|" inside a value can only shift into the last field, never drop one.
	parts := strings.SplitN(k.key, "|", len(r.GroupBy))
	for i, g := range r.GroupBy {
		if i < len(parts) {
			labels[strings.ReplaceAll(g, ".", "_")] = parts[i]
		}
	}
	labels["alertname"] = r.Name
	labels["severity"] = string(r.Severity)
	labels["source"] = "gatewatch"
	d := TemplateData{Rule: r.Name, Key: k.key, Value: v, Threshold: r.Threshold.Value, Window: r.Window, Labels: labels, event: ev}
	ann := map[string]string{
		"summary":     render(r.summary, r.Summary, d),
		"runbook_url": r.RunbookURL,
	}
	if r.descr != nil {
		ann["description"] = render(r.descr, r.Description, d)
	}
	return &Alert{
		ID: AlertID(r.Name, k.key), Rule: r, Status: Firing, GroupKey: k.key,
		Labels: labels, Annotations: ann, StartsAt: time.Unix(0, now).UTC(), Value: v, Source: k.source,
	}
}

// Advance moves event time to now (when it is later than the newest event)
// and re-evaluates pending and firing keys, so that alerts fire after `for`
// and resolve when their window empties even when no events arrive. It also
// evicts keys whose window has emptied. The caller passes its clock; during
// a backlog replay it should not call Advance, so that event time rules.
func (e *Engine) Advance(now time.Time, out []Alert) []Alert {
	n := now.UnixNano()
	e.wall = n
	if n > e.watermark {
		e.watermark = n
	}
	for _, st := range e.rules {
		for k := range st.active {
			out = st.evaluate(k, e.watermark, nil, out)
		}
		idle := e.watermark - int64(st.r.Window) - int64(st.r.Resolution)
		// The list is in order of last touch, so the walk stops at the
		// first key seen recently; keys with open alerts are kept until
		// they resolve.
		for k := st.order.back; k != nil && k.lastSeen < idle; {
			prev := k.prev
			if k.state == phaseInactive {
				out = st.evict(k, e.watermark, false, out)
			}
			k = prev
		}
	}
	return out
}

// Firing returns every alert firing now, for notifiers that must be
// reminded (Alertmanager forgets an alert that is not re-sent).
func (e *Engine) Firing(out []Alert) []Alert {
	for _, st := range e.rules {
		for k := range st.active {
			if k.state == phaseFiring {
				out = append(out, *k.alert)
			}
		}
	}
	return out
}

// Stats returns per-rule counters.
func (e *Engine) Stats() []Stats {
	out := make([]Stats, len(e.rules))
	for i, st := range e.rules {
		out[i] = st.stats
		out[i].Keys = len(st.keys)
	}
	return out
}

// Values returns the window value of every key of rule at the current
// watermark: what the rule sees now.
func (e *Engine) Values(rule string) map[string]float64 {
	for _, st := range e.rules {
		if st.r.Name != rule {
			continue
		}
		out := make(map[string]float64, len(st.keys))
		for key, k := range st.keys {
			out[key], _ = st.value(k, e.watermark)
		}
		return out
	}
	return nil
}
