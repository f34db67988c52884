package blocklist

import (
	"fmt"
	"hash/maphash"
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

// ipTable holds exact addresses.
type ipTable struct {
	// filter has one bit per hash bucket, set for every address held:
	// a clear bit proves absence. Almost every request comes from a
	// client not on the list, and at 16 bits per entry (256 KiB for
	// 100 000) the filter stays in cache where the map does not, so a
	// miss usually costs one cached load instead of a trip to memory.
	filter  []uint64
	idx     map[addrKey]slot
	entries []Entry
}

// hash mixes an address for the filter (murmur3's finaliser). The filter
// only saves time, so a collision an attacker could aim for would cost
// them their own lookup's speed, nothing else.
func (k addrKey) hash() uint64 {
	h := k.hi*0x9e3779b97f4a7c15 ^ k.lo
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (t *ipTable) mayHold(k addrKey) bool {
	h := k.hash()
	w := (h >> 6) & uint64(len(t.filter)-1)
	return t.filter[w]&(1<<(h&63)) != 0
}

// slot is a map value: the entry's Until sits beside its index so that a
// lookup of an expired or absent key touches only the map.
type slot struct {
	until int64
	i     int32
}

// cidrTable holds networks in a prefix trie.
type cidrTable struct {
	trie    *trie
	entries []Entry
}

// strTable holds consumer ids or API-key fingerprints.
type strTable struct {
	filter  []uint64 // as in ipTable
	seed    maphash.Seed
	idx     map[string]slot
	entries []Entry
}

func (t *strTable) mayHold(id string) bool {
	h := maphash.String(t.seed, id)
	w := (h >> 6) & uint64(len(t.filter)-1)
	return t.filter[w]&(1<<(h&63)) != 0
}

// filterWords is the filter size for n entries: a power of two, at least
// 16 bits per entry.
func filterWords(n int) int {
	words := 64
	for words*64 < 16*n {
		words *= 2
	}
	return words
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

func buildIPs(es []Entry) (*ipTable, error) {
	if len(es) == 0 {
		return nil, nil
	}
	t := &ipTable{idx: make(map[addrKey]slot, len(es)), entries: make([]Entry, 0, len(es))}
	for _, e := range es {
		a, err := netip.ParseAddr(strings.TrimPrefix(e.Subject, record.KindIP+":"))
		if err != nil {
			return nil, fmt.Errorf("blocklist: entry %s: %w", e.Subject, err)
		}
		k := keyOf(a)
		if s, dup := t.idx[k]; dup {
			if longer(e, t.entries[s.i]) {
				t.entries[s.i] = e
				t.idx[k] = slot{until: e.untilNanos(), i: s.i}
			}
			continue
		}
		t.idx[k] = slot{until: e.untilNanos(), i: int32(len(t.entries))}
		t.entries = append(t.entries, e)
	}
	words := filterWords(len(t.entries))
	t.filter = make([]uint64, words)
	for k := range t.idx {
		h := k.hash()
		t.filter[(h>>6)&uint64(words-1)] |= 1 << (h & 63)
	}
	return t, nil
}

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

func buildStrings(es []Entry, kind string) *strTable {
	if len(es) == 0 {
		return nil
	}
	t := &strTable{idx: make(map[string]slot, len(es)), entries: make([]Entry, 0, len(es))}
	for _, e := range es {
		id := strings.TrimPrefix(e.Subject, kind+":")
		if s, dup := t.idx[id]; dup {
			if longer(e, t.entries[s.i]) {
				t.entries[s.i] = e
				t.idx[id] = slot{until: e.untilNanos(), i: s.i}
			}
			continue
		}
		t.idx[id] = slot{until: e.untilNanos(), i: int32(len(t.entries))}
		t.entries = append(t.entries, e)
	}
	words := filterWords(len(t.entries))
	t.filter, t.seed = make([]uint64, words), maphash.MakeSeed()
	for id := range t.idx {
		h := maphash.String(t.seed, id)
		t.filter[(h>>6)&uint64(words-1)] |= 1 << (h & 63)
	}
	return t
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

func (s *strTable) match(id string, now int64) (Entry, bool) {
	if s == nil || id == "" || !s.mayHold(id) {
		return Entry{}, false
	}
	if sl, ok := s.idx[id]; ok && now < sl.until {
		return s.entries[sl.i], true
	}
	return Entry{}, false
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
