package blocklist

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

// ipTable holds exact addresses in two open-addressed hash tables of
// fixed-size keys, one per family, built once and never modified.
//
// A lookup that finds an address touches the filter (in cache) and, almost
// always, one cache line of its table: a bucket is exactly one line and
// holds the keys, the Untils and the entry indices side by side, and a
// table is at most half full, so a key nearly always sits in the bucket
// its hash names (else in the next ones, linear probing). The entry itself
// is not read: Match returns a pointer to it.
type ipTable struct {
	// filter has one bit per hash bucket, set for every address held:
	// a clear bit proves absence. Almost every request comes from a
	// client not on the list, and at 16 bits per entry (256 KiB for
	// 100 000) the filter stays in cache where the tables do not, so a
	// miss usually costs one cached load instead of a trip to memory.
	filter []uint64
	fmask  uint64 // len(filter)-1
	// seed keys the hash, so that which addresses share a bucket cannot
	// be predicted: an attacker who gets addresses of their choosing
	// blocked cannot pile them into one run of buckets.
	seed           maphash.Seed
	v4             []v4bucket // a power of two, at least one
	v6             []v6bucket // a power of two, at least one
	shift4, shift6 uint8      // bucket index: the hash's top bits
	entries        []Entry
}

// v4bucket is one cache line of the IPv4 table: four slots.
type v4bucket [4]v4slot

type v4slot struct {
	key   uint32
	ref   uint32 // index into entries + 1; 0 marks a free slot
	until int64  // the entry's Until in Unix nanoseconds
}

// v6bucket is one cache line of the IPv6 table: two slots.
type v6bucket [2]v6slot

type v6slot struct {
	hi, lo uint64
	until  int64
	ref    uint32 // as in v4slot
	_      uint32
}

// v4 reports whether k is an IPv4 address, and which.
func (k addrKey) v4() (uint32, bool) {
	return uint32(k.lo), k.hi == 0 && k.lo>>32 == 0xffff
}

func (t *ipTable) hash(k addrKey) uint64 { return maphash.Comparable(t.seed, k) }

func (t *ipTable) mayHold(h uint64) bool {
	return t.filter[(h>>6)&t.fmask]&(1<<(h&63)) != 0
}

// lookup returns the entry held for k if it is active at now, else nil.
func (t *ipTable) lookup(k addrKey, now int64) *Entry {
	h := t.hash(k)
	if !t.mayHold(h) {
		return nil
	}
	if a, ok := k.v4(); ok {
		mask := uint64(len(t.v4) - 1)
		for b := h >> t.shift4; ; b = (b + 1) & mask {
			bk := &t.v4[b]
			for i := range bk {
				s := &bk[i]
				if s.ref == 0 {
					return nil
				}
				if s.key == a {
					if now < s.until {
						return &t.entries[s.ref-1]
					}
					return nil
				}
			}
		}
	}
	mask := uint64(len(t.v6) - 1)
	for b := h >> t.shift6; ; b = (b + 1) & mask {
		bk := &t.v6[b]
		for i := range bk {
			s := &bk[i]
			if s.ref == 0 {
				return nil
			}
			if s.hi == k.hi && s.lo == k.lo {
				if now < s.until {
					return &t.entries[s.ref-1]
				}
				return nil
			}
		}
	}
}

// slotRef finds k's slot for insertion: the slot holding k, or the free
// slot where it goes. The tables always keep a free slot, so it ends.
func (t *ipTable) slotRef(k addrKey, h uint64) (ref *uint32, until *int64) {
	if a, ok := k.v4(); ok {
		mask := uint64(len(t.v4) - 1)
		for b := h >> t.shift4; ; b = (b + 1) & mask {
			for i := range t.v4[b] {
				s := &t.v4[b][i]
				if s.ref == 0 || s.key == a {
					s.key = a
					return &s.ref, &s.until
				}
			}
		}
	}
	mask := uint64(len(t.v6) - 1)
	for b := h >> t.shift6; ; b = (b + 1) & mask {
		for i := range t.v6[b] {
			s := &t.v6[b][i]
			if s.ref == 0 || (s.hi == k.hi && s.lo == k.lo) {
				s.hi, s.lo = k.hi, k.lo
				return &s.ref, &s.until
			}
		}
	}
}

// buckets returns a table size for n keys at slotsPer slots a bucket: a
// power of two of buckets, at most half full, and the shift that takes a
// hash's top bits as a bucket index.
func buckets(n, slotsPer int) (int, uint8) {
	nb, shift := 1, uint8(64)
	for nb*slotsPer < 2*n {
		nb *= 2
		shift--
	}
	return nb, shift
}

// strTable holds consumer ids or API-key fingerprints.
type strTable struct {
	filter  []uint64 // as in ipTable
	seed    maphash.Seed
	idx     map[string]slot
	entries []Entry
}

// slot is a map value: the entry's Until sits beside its index so that a
// lookup of an expired or absent key touches only the map.
type slot struct {
	until int64
	i     int32
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

func buildIPs(es []Entry) (*ipTable, error) {
	if len(es) == 0 {
		return nil, nil
	}
	keys := make([]addrKey, len(es))
	n4 := 0
	for i, e := range es {
		a, err := netip.ParseAddr(strings.TrimPrefix(e.Subject, record.KindIP+":"))
		if err != nil {
			return nil, fmt.Errorf("blocklist: entry %s: %w", e.Subject, err)
		}
		keys[i] = keyOf(a)
		if _, ok := keys[i].v4(); ok {
			n4++
		}
	}
	t := &ipTable{seed: maphash.MakeSeed(), entries: make([]Entry, 0, len(es))}
	nb4, shift4 := buckets(n4, len(v4bucket{}))
	nb6, shift6 := buckets(len(es)-n4, len(v6bucket{}))
	t.v4, t.shift4 = make([]v4bucket, nb4), shift4
	t.v6, t.shift6 = make([]v6bucket, nb6), shift6
	hashes := make([]uint64, 0, len(es))
	for i, e := range es {
		h := t.hash(keys[i])
		ref, until := t.slotRef(keys[i], h)
		if *ref != 0 {
			if longer(e, t.entries[*ref-1]) {
				t.entries[*ref-1] = e
				*until = e.untilNanos()
			}
			continue
		}
		t.entries = append(t.entries, e)
		*ref, *until = uint32(len(t.entries)), e.untilNanos()
		hashes = append(hashes, h)
	}
	words := filterWords(len(t.entries))
	t.filter, t.fmask = make([]uint64, words), uint64(words-1)
	for _, h := range hashes {
		t.filter[(h>>6)&t.fmask] |= 1 << (h & 63)
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

// match returns the entry held for id if it is active at now, else nil.
func (s *strTable) match(id string, now int64) *Entry {
	if s == nil || id == "" || !s.mayHold(id) {
		return nil
	}
	if sl, ok := s.idx[id]; ok && now < sl.until {
		return &s.entries[sl.i]
	}
	return nil
}
