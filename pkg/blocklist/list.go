package blocklist

import (
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// List is the live blocklist of one process: readers call Match (or take
// Matcher once per request) without locks; writers (the Follower, tests)
// call Apply, Replace and Prune, which build a new Matcher from the changed
// kinds only and swap it in atomically. A reader therefore sees either the
// whole of a change or none of it.
type List struct {
	cur atomic.Pointer[Matcher]

	mu     sync.Mutex          // serialises writers; readers never take it
	bySubj [4]map[string]Entry // the source of truth, by kind and subject
}

// NewList returns an empty list.
func NewList() *List {
	l := &List{}
	for i := range l.bySubj {
		l.bySubj[i] = map[string]Entry{}
	}
	l.cur.Store(&Matcher{})
	return l
}

// Matcher returns the current snapshot; it never changes after it is
// returned, so a handler can take it once and ask Kinds and Match of it.
func (l *List) Matcher() *Matcher { return l.cur.Load() }

// Match is l.Matcher().Match; the entry returned must not be modified.
func (l *List) Match(ip netip.Addr, consumerID, apikeyFP string, now time.Time) (*Entry, bool) {
	return l.cur.Load().Match(ip, consumerID, apikeyFP, now)
}

// Kinds is l.Matcher().Kinds.
func (l *List) Kinds() Kind { return l.cur.Load().Kinds() }

// Apply sets or removes entries, in order (a later change to a subject wins),
// and publishes the result as one new Matcher. Changes whose subject does
// not parse are rejected before anything is applied.
func (l *List) Apply(changes ...Change) error {
	if len(changes) == 0 {
		return nil
	}
	kinds := make([]Kind, len(changes))
	for i, c := range changes {
		k, err := subjectKind(c.Subject)
		if err != nil {
			return err
		}
		if !c.Deleted && (c.Entry.Subject != c.Subject || c.Entry.Kind != k) {
			return errEntryMismatch(c)
		}
		kinds[i] = k
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var touched Kind
	for i, c := range changes {
		m := l.bySubj[kindIndex(kinds[i])]
		if c.Deleted {
			if _, ok := m[c.Subject]; !ok {
				continue
			}
			delete(m, c.Subject)
		} else {
			m[c.Subject] = c.Entry
		}
		touched |= kinds[i]
	}
	return l.publish(touched)
}

// Replace makes entries the whole content of the list.
func (l *List) Replace(entries []Entry) error {
	next := [4]map[string]Entry{{}, {}, {}, {}}
	for _, e := range entries {
		k, err := subjectKind(e.Subject)
		if err != nil {
			return err
		}
		if e.Kind != k {
			return errEntryMismatch(Change{Subject: e.Subject, Entry: e})
		}
		next[kindIndex(k)][e.Subject] = e
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bySubj = next
	return l.publish(KindIP | KindCIDR | KindConsumer | KindAPIKeyFP)
}

// Prune drops entries no longer active at now, so that they stop costing
// memory and Kinds stops reporting them; it returns how many it dropped.
// Matching does not depend on it: an expired entry never matches.
func (l *List) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var touched Kind
	n := 0
	for i, m := range l.bySubj {
		for s, e := range m {
			if !e.Active(now) {
				delete(m, s)
				touched |= kindAt(i)
				n++
			}
		}
	}
	// Entries in the maps were validated on the way in, so publish cannot
	// fail here.
	_ = l.publish(touched)
	return n
}

// Entries returns every entry, expired ones included until pruned, sorted
// by subject.
func (l *List) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Entry
	for _, m := range l.bySubj {
		for _, e := range m {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out
}

// publish rebuilds the tables of the touched kinds and swaps the result in.
// l.mu must be held.
func (l *List) publish(touched Kind) error {
	next := l.cur.Load()
	for i := range l.bySubj {
		k := kindAt(i)
		if touched&k == 0 {
			continue
		}
		es := make([]Entry, 0, len(l.bySubj[i]))
		for _, e := range l.bySubj[i] {
			es = append(es, e)
		}
		m, err := next.with(k, es)
		if err != nil {
			return err
		}
		next = m
	}
	l.cur.Store(next)
	return nil
}
