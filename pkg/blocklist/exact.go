package blocklist

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

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

func (s *strTable) match(id string, now int64) (Entry, bool) {
	if s == nil || id == "" || !s.mayHold(id) {
		return Entry{}, false
	}
	if sl, ok := s.idx[id]; ok && now < sl.until {
		return s.entries[sl.i], true
	}
	return Entry{}, false
}
