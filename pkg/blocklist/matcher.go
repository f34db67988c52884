package blocklist

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

// Matcher answers "is this request blocked?" for one fixed set of entries.
// It is immutable once built, so any number of goroutines may call Match
// without locks; List replaces it wholesale when entries change.
//
// When several entries match one request, the most specific wins: an exact
// IP, then the longest active CIDR, then the consumer, then the API-key
// fingerprint. Entries past their Until are skipped, so a shorter CIDR
// takes over from an expired longer one.
type Matcher struct {
	ips       *ipTable
	cidrs     *cidrTable
	consumers *strTable
	apikeys   *strTable
	kinds     Kind
}

// cidrTable holds networks in a prefix trie.
type cidrTable struct {
	trie    *trie
	entries []Entry
}

// NewMatcher builds a Matcher from entries. Entries whose subjects name the
// same key (ip:203.0.113.7 and ip:::ffff:203.0.113.7) keep the one that
// blocks longer. An entry with an invalid subject or a Kind that
// contradicts it is an error: entries come from DecodeRecord, which
// validates, so this means a caller bug.
func NewMatcher(entries []Entry) (*Matcher, error) {
	var count [4]int
	for _, e := range entries {
		k, err := subjectKind(e.Subject)
		if err != nil {
			return nil, err
		}
		if e.Kind != k {
			return nil, fmt.Errorf("blocklist: entry %s: kind %v does not match its subject", e.Subject, e.Kind)
		}
		count[kindIndex(k)]++
	}
	var by [4][]Entry
	for i, n := range count {
		by[i] = make([]Entry, 0, n)
	}
	for _, e := range entries {
		by[kindIndex(e.Kind)] = append(by[kindIndex(e.Kind)], e)
	}
	m := &Matcher{}
	for i, es := range by {
		if err := m.rebuild(kindAt(i), es); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func kindIndex(k Kind) int {
	switch k {
	case KindIP:
		return 0
	case KindCIDR:
		return 1
	case KindConsumer:
		return 2
	}
	return 3
}

func kindAt(i int) Kind { return Kind(1) << i }

// with returns a copy of m whose table for kind k holds exactly es; the
// other kinds' tables are shared, not copied (they are immutable).
func (m *Matcher) with(k Kind, es []Entry) (*Matcher, error) {
	c := *m
	if err := c.rebuild(k, es); err != nil {
		return nil, err
	}
	return &c, nil
}

func (m *Matcher) rebuild(k Kind, es []Entry) error {
	if len(es) == 0 {
		m.kinds &^= k
	} else {
		m.kinds |= k
	}
	switch k {
	case KindIP:
		t, err := buildIPs(es)
		m.ips = t
		return err
	case KindCIDR:
		t, err := buildCIDRs(es)
		m.cidrs = t
		return err
	case KindConsumer:
		m.consumers = buildStrings(es, record.KindConsumer)
	default:
		m.apikeys = buildStrings(es, record.KindAPIKeyFP)
	}
	return nil
}

// longer is the tie-break for two entries on one key: the later Until.
func longer(a, b Entry) bool { return a.Until.After(b.Until) }

func buildCIDRs(es []Entry) (*cidrTable, error) {
	if len(es) == 0 {
		return nil, nil
	}
	t := &cidrTable{trie: newTrie(), entries: es}
	tr := t.trie
	tr.nodes = make([]tnode, 0, 2*len(es))
	tr.until = make([]int64, len(es))
	tr.parent = make([]int32, len(es))
	for i, e := range es {
		tr.until[i] = e.untilNanos()
		tr.parent[i] = -1
	}
	keep := func(old, new int32) int32 {
		if longer(es[new], es[old]) {
			return new
		}
		return old
	}
	type short struct {
		p netip.Prefix
		e int32
	}
	var shorts []short
	for i, e := range es {
		p, err := prefixOf(strings.TrimPrefix(e.Subject, record.KindCIDR+":"))
		if err != nil {
			return nil, fmt.Errorf("blocklist: entry %s: %w", e.Subject, err)
		}
		hi, lo := prefixKey(p.Addr())
		switch {
		case !p.Addr().Is4():
			tr.insert(&tr.root6, hi, lo, uint8(p.Bits()), int32(i), keep)
		case p.Bits() <= 16:
			shorts = append(shorts, short{p, int32(i)})
		default:
			tr.initSlots4()
			tr.insert(&tr.slots4[hi>>48].root, hi, lo, uint8(p.Bits()), int32(i), keep)
		}
	}
	// Expand short IPv4 prefixes over their slots, shortest first so that a
	// longer one overwrites; on one prefix, the later Until goes on top. What
	// a prefix overwrites becomes its parent: the fallback once it expires.
	sort.Slice(shorts, func(a, b int) bool {
		pa, pb := shorts[a].p, shorts[b].p
		if pa.Bits() != pb.Bits() {
			return pa.Bits() < pb.Bits()
		}
		return es[shorts[a].e].Until.Before(es[shorts[b].e].Until)
	})
	for _, s := range shorts {
		tr.initSlots4()
		hi, _ := prefixKey(s.p.Addr())
		first := hi >> 48
		slots := tr.slots4[first : first+1<<(16-s.p.Bits())]
		tr.parent[s.e] = slots[0].short
		for j := range slots {
			slots[j].short = s.e
		}
	}
	return t, nil
}

// Kinds reports which kinds of subject the matcher holds, so the guard
// fetches the client IP only when NeedsClientIP and the consumer only when
// NeedsConsumer. It counts entries not yet pruned even if expired: a
// spare PDK call, never a missed block.
func (m *Matcher) Kinds() Kind {
	if m == nil {
		return 0
	}
	return m.kinds
}

// Len is the number of entries held, expired ones included until pruned.
// Of two IP, consumer or API-key entries on one key only the one kept
// counts; CIDR entries all count.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	n := 0
	if m.ips != nil {
		n += len(m.ips.entries)
	}
	if m.cidrs != nil {
		n += len(m.cidrs.entries)
	}
	if m.consumers != nil {
		n += len(m.consumers.entries)
	}
	if m.apikeys != nil {
		n += len(m.apikeys.entries)
	}
	return n
}

// Match returns the entry that blocks a request from ip (the zero Addr if
// not read), authenticated as consumerID with an API key whose fingerprint
// is apikeyFP (empty if unknown), at now. It does not allocate.
func (m *Matcher) Match(ip netip.Addr, consumerID, apikeyFP string, now time.Time) (Entry, bool) {
	if m == nil || m.kinds == 0 {
		return Entry{}, false
	}
	t := nowNanos(now)
	if ip.IsValid() {
		if m.ips != nil {
			if k := keyOf(ip); m.ips.mayHold(k) {
				if s, ok := m.ips.idx[k]; ok && t < s.until {
					return m.ips.entries[s.i], true
				}
			}
		}
		if m.cidrs != nil {
			a := ip.Unmap()
			hi, lo := prefixKey(a)
			if i := m.cidrs.trie.lookupAddr(a.Is4(), hi, lo, t); i >= 0 {
				return m.cidrs.entries[i], true
			}
		}
	}
	if e, ok := m.consumers.match(consumerID, t); ok {
		return e, true
	}
	return m.apikeys.match(apikeyFP, t)
}

// Entries returns every entry held, in no particular order.
func (m *Matcher) Entries() []Entry {
	if m == nil {
		return nil
	}
	out := make([]Entry, 0, m.Len())
	if m.ips != nil {
		out = append(out, m.ips.entries...)
	}
	if m.cidrs != nil {
		out = append(out, m.cidrs.entries...)
	}
	if m.consumers != nil {
		out = append(out, m.consumers.entries...)
	}
	if m.apikeys != nil {
		out = append(out, m.apikeys.entries...)
	}
	return out
}
