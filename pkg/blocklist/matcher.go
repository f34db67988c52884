package blocklist

import (
	"fmt"
	"net/netip"
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

// cidrTable holds networks in a prefix trie; entries are all the CIDR
// entries, also those the trie dropped as duplicates.
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
	tr := &trie{root4: -1, root6: -1, recs: make([]prec, len(es))}
	// IPv4 prefixes fill ps from the front, IPv6 ones from the back.
	ps := make([]pfx, len(es))
	n4, n6 := 0, 0
	for i, e := range es {
		p, err := prefixOf(strings.TrimPrefix(e.Subject, record.KindCIDR+":"))
		if err != nil {
			return nil, fmt.Errorf("blocklist: entry %s: %w", e.Subject, err)
		}
		hi, lo := prefixKey(p.Addr())
		x := pfx{hi: hi, lo: lo, until: e.untilNanos(), rec: int32(i), bits: uint8(p.Bits())}
		tr.recs[i] = prec{hi: hi, lo: lo, until: x.until, parent: -1, bits: x.bits}
		if p.Addr().Is4() {
			ps[n4] = x
			n4++
		} else {
			n6++
			ps[len(ps)-n6] = x
		}
	}
	roots := 0
	for _, n := range []int{n4, n6} {
		if n > 0 {
			roots++
		}
	}
	// A random list needs about one node for every four prefixes; append
	// grows the pool if this one needs more.
	tr.pool = make([]uint32, 0, roots<<rootBits+nodeSlots*(len(es)/3))
	var err error
	if tr.root4, err = tr.add(ps[:n4]); err != nil {
		return nil, err
	}
	if tr.root6, err = tr.add(ps[n4:]); err != nil {
		return nil, err
	}
	return &cidrTable{trie: tr, entries: es}, nil
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
// is apikeyFP (empty if unknown), at now, or nil and false. It does not
// allocate, and it does not copy the entry: the pointer is to the
// matcher's own, which nothing modifies (and neither may the caller), so
// it stays valid after the List moves on to another Matcher.
func (m *Matcher) Match(ip netip.Addr, consumerID, apikeyFP string, now time.Time) (*Entry, bool) {
	if m == nil || m.kinds == 0 {
		return nil, false
	}
	t := nowNanos(now)
	if ip.IsValid() {
		k := keyOf(ip)
		if m.ips != nil {
			if e := m.ips.lookup(k, t); e != nil {
				return e, true
			}
		}
		if m.cidrs != nil {
			a4, is4 := k.v4()
			hi, lo := k.hi, k.lo
			if is4 {
				hi, lo = uint64(a4)<<32, 0
			}
			if i := m.cidrs.trie.lookupAddr(is4, hi, lo, t); i >= 0 {
				return &m.cidrs.entries[i], true
			}
		}
	}
	if e := m.consumers.match(consumerID, t); e != nil {
		return e, true
	}
	if e := m.apikeys.match(apikeyFP, t); e != nil {
		return e, true
	}
	return nil, false
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
