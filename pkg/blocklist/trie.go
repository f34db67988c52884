package blocklist

import (
	"math/bits"
	"net/netip"
)

// trie finds the longest active prefix containing an address. IPv6 uses a
// path-compressed binary trie (a Patricia trie) over 128-bit keys; its
// nodes live in one slice and link by index, and a lookup touches one node
// per branching level. IPv4 adds a first level indexed directly by the top
// 16 bits of the address (512 KiB, built only when there are IPv4
// prefixes): each slot holds the longest prefix of /16 or shorter that
// covers it, expanded at build time, and the root of a small Patricia trie
// for the longer prefixes under it. A lookup is then one slot, a node or
// two, and the entry, whatever the list's size.
//
// The families have separate roots so that an IPv6 prefix never covers an
// IPv4 client (netip semantics). IPv4 keys sit left-aligned in hi. A built
// trie is never modified, only replaced.
type trie struct {
	nodes  []tnode
	slots4 []slot4 // nil, or 1<<16 slots indexed by the top 16 bits
	root6  int32
	until  []int64 // by entry index: Until in Unix nanoseconds
	parent []int32 // by entry index, for /16 and shorter IPv4 prefixes: the next shorter covering one, or -1
}

type slot4 struct {
	short int32 // longest prefix of /16 or shorter covering the slot, or -1
	root  int32 // Patricia trie of the longer prefixes in this /16, or -1
}

type tnode struct {
	hi, lo uint64   // the prefix, masked to bits
	until  int64    // the entry's Until, here so that checking it costs no other cache line
	child  [2]int32 // -1 when absent
	entry  int32    // index into the entries, -1 for a branching node
	bits   uint8
}

func newTrie() *trie { return &trie{root6: -1} }

// prefixKey returns a prefix's address as a trie key, IPv4 left-aligned.
func prefixKey(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		v := a.As4()
		return uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32, 0
	}
	b := a.As16()
	return be64(b[:8]), be64(b[8:])
}

func mask128(hi, lo uint64, n uint8) (uint64, uint64) {
	if n <= 64 {
		return hi & ^(^uint64(0) >> n), 0
	}
	return hi, lo & ^(^uint64(0) >> (n - 64))
}

func bitAt(hi, lo uint64, i uint8) int {
	if i < 64 {
		return int(hi>>(63-i)) & 1
	}
	return int(lo>>(127-i)) & 1
}

func commonLen(ahi, alo, bhi, blo uint64) uint8 {
	if x := ahi ^ bhi; x != 0 {
		return uint8(bits.LeadingZeros64(x))
	}
	return uint8(64 + bits.LeadingZeros64(alo^blo))
}

func (t *trie) node(hi, lo uint64, n uint8, entry int32) int32 {
	hi, lo = mask128(hi, lo, n)
	until := int64(0)
	if entry >= 0 {
		until = t.until[entry]
	}
	t.nodes = append(t.nodes, tnode{hi: hi, lo: lo, until: until, bits: n, entry: entry, child: [2]int32{-1, -1}})
	return int32(len(t.nodes) - 1)
}

// insert adds a prefix for entry e. If the prefix already holds an entry,
// keep chooses which of the two stays.
func (t *trie) insert(root *int32, hi, lo uint64, n uint8, e int32, keep func(old, new int32) int32) {
	hi, lo = mask128(hi, lo, n)
	parent, side := int32(-1), 0
	link := func(i int32) {
		if parent < 0 {
			*root = i
		} else {
			t.nodes[parent].child[side] = i
		}
	}
	for i := *root; ; {
		if i < 0 {
			link(t.node(hi, lo, n, e))
			return
		}
		cur := t.nodes[i]
		c := min(commonLen(hi, lo, cur.hi, cur.lo), n, cur.bits)
		if c == cur.bits {
			if c == n {
				if cur.entry >= 0 {
					e = keep(cur.entry, e)
				}
				t.nodes[i].entry, t.nodes[i].until = e, t.until[e]
				return
			}
			parent, side = i, bitAt(hi, lo, cur.bits)
			i = cur.child[side]
			continue
		}
		// The new prefix and cur diverge (or the new one is shorter) above
		// cur: a node at the common length takes cur's place.
		var m int32
		if c == n {
			m = t.node(hi, lo, n, e)
		} else {
			m = t.node(hi, lo, c, -1)
			leaf := t.node(hi, lo, n, e)
			t.nodes[m].child[bitAt(hi, lo, c)] = leaf
		}
		t.nodes[m].child[bitAt(cur.hi, cur.lo, c)] = i
		link(m)
		return
	}
}

// lookup returns the entry of the longest prefix that contains the key and
// is still active at now, or -1. Walking down visits every containing
// prefix in order of length, so an expired /32 falls back to a live /24.
func (t *trie) lookup(i int32, hi, lo uint64, width uint8, now int64) int32 {
	best := int32(-1)
	for i >= 0 {
		n := &t.nodes[i]
		mh, ml := mask128(hi, lo, n.bits)
		if mh != n.hi || ml != n.lo {
			break
		}
		if n.entry >= 0 && now < n.until {
			best = n.entry
		}
		if n.bits >= width {
			break
		}
		i = n.child[bitAt(hi, lo, n.bits)]
	}
	return best
}

func (t *trie) initSlots4() {
	if t.slots4 != nil {
		return
	}
	t.slots4 = make([]slot4, 1<<16)
	for i := range t.slots4 {
		t.slots4[i] = slot4{short: -1, root: -1}
	}
}

// lookupAddr is lookup for a client address of either family.
func (t *trie) lookupAddr(is4 bool, hi, lo uint64, now int64) int32 {
	if !is4 {
		return t.lookup(t.root6, hi, lo, 128, now)
	}
	if t.slots4 == nil {
		return -1
	}
	s := t.slots4[hi>>48]
	if s.root >= 0 {
		if i := t.lookup(s.root, hi, lo, 32, now); i >= 0 {
			return i
		}
	}
	for e := s.short; e >= 0; e = t.parent[e] {
		if now < t.until[e] {
			return e
		}
	}
	return -1
}
