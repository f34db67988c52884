package blocklist

import (
	"cmp"
	"errors"
	"math/bits"
	"net/netip"
	"slices"
)

// trie finds the longest active prefix containing an address: a multibit
// trie, one per family, whose first level is indexed directly by the top
// 16 bits of the address (256 KiB, built only for a family that has
// prefixes) and whose other nodes are 16 slots of 4 bytes, one cache line,
// indexed by the next 4 bits. A lookup is a root slot, the few nodes where
// the prefixes under it branch, and one record, whatever the list's size.
//
// Nodes exist only where two or more prefixes lie under a slot, and a node
// sits at the depth where those prefixes diverge rather than every 4 bits
// below its parent (path compression, without checking the skipped bits on
// the way down: the record reached is checked instead, see lookup), so
// there are at most as many nodes as prefixes. A slot holds a node, or one
// record: the only prefix under it, or else the longest prefix covering
// it. Records link to the next shorter prefix containing them, and that
// chain is both the way back from a record that does not contain the
// address and the fallback from an expired prefix to a live shorter one.
//
// The families have separate roots so that an IPv6 prefix never covers an
// IPv4 client (netip semantics). IPv4 keys sit left-aligned in hi. A built
// trie is never modified, only replaced.
type trie struct {
	// pool holds the slots of the roots and of every node. A slot is 0
	// (empty), a record index + 1, or nodeBit | depth<<24 | node, the
	// node's slots being pool[node*nodeSlots:][:nodeSlots].
	pool         []uint32
	root4, root6 int // offset of each family's root in pool, or -1
	recs         []prec
}

// prec is one prefix, by entry index; 32 bytes, so one never straddles a
// cache line.
type prec struct {
	hi, lo uint64 // the prefix, masked to bits
	until  int64  // the entry's Until in Unix nanoseconds
	parent int32  // the longest other prefix held that contains this one, or -1
	bits   uint8
}

const (
	rootBits  = 16
	nodeBits  = 4
	nodeSlots = 1 << nodeBits
	nodeBit   = 1 << 31
	maxNodes  = 1 << 24
)

var errTooManyPrefixes = errors.New("blocklist: too many CIDR entries")

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

func commonLen(ahi, alo, bhi, blo uint64) uint8 {
	if x := ahi ^ bhi; x != 0 {
		return uint8(bits.LeadingZeros64(x))
	}
	return uint8(64 + bits.LeadingZeros64(alo^blo))
}

// chunk returns the s bits of the key that start at bit d.
func chunk(hi, lo uint64, d, s uint8) int {
	var v uint64
	if d < 64 {
		v = hi<<d | lo>>(64-d)
	} else {
		v = lo << (d - 64)
	}
	return int(v >> (64 - s))
}

// lookupAddr returns the entry of the longest prefix that contains the key
// and is still active at now, or -1.
func (t *trie) lookupAddr(is4 bool, hi, lo uint64, now int64) int32 {
	base := t.root6
	if is4 {
		base = t.root4
	}
	if base < 0 {
		return -1
	}
	s := t.pool[base+int(hi>>(64-rootBits))]
	for s&nodeBit != 0 {
		s = t.pool[int(s&(maxNodes-1))*nodeSlots+chunk(hi, lo, uint8(s>>24&0x7f), nodeBits)]
	}
	// The slot's record or one of the prefixes containing it is the
	// answer: nodes do not check the bits they skip, but an address that
	// differs there is in no prefix under the skip, and every prefix above
	// it contains the record. Walking up visits them longest first.
	for r := int32(s) - 1; r >= 0; r = t.recs[r].parent {
		x := &t.recs[r]
		if now < x.until {
			if mh, ml := mask128(hi, lo, x.bits); mh == x.hi && ml == x.lo {
				return r
			}
		}
	}
	return -1
}

// pfx is a prefix being placed in the trie.
type pfx struct {
	hi, lo uint64
	until  int64
	rec    int32
	bits   uint8
}

func (a *pfx) contains(b *pfx) bool {
	if a.bits > b.bits {
		return false
	}
	mh, ml := mask128(b.hi, b.lo, a.bits)
	return mh == a.hi && ml == a.lo
}

// add builds the root of one family from its prefixes, which it sorts. Of several entries on one prefix only the one
// with the latest Until is kept (the first of them on a tie).
func (t *trie) add(ps []pfx) (root int, err error) {
	if len(ps) == 0 {
		return -1, nil
	}
	sortPrefixes(ps)
	// Drop the duplicates; in this order a prefix's containers come
	// before it, so a stack of the open ones gives each its parent.
	kept := ps[:0]
	var stack []int32
	for i := range ps {
		p := ps[i]
		if n := len(kept); n > 0 && kept[n-1].hi == p.hi && kept[n-1].lo == p.lo && kept[n-1].bits == p.bits {
			continue
		}
		for len(stack) > 0 && !kept[stack[len(stack)-1]].contains(&p) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			t.recs[p.rec].parent = kept[stack[len(stack)-1]].rec
		}
		stack = append(stack, int32(len(kept)))
		kept = append(kept, p)
	}
	root = len(t.pool)
	t.pool = append(t.pool, make([]uint32, 1<<rootBits)...)
	return root, t.fill(root, 0, rootBits, kept, -1)
}

// sortPrefixes sorts by address, then length, then the later Until, then
// entry: a radix sort on hi, which for IPv4 is the whole address, then a
// comparison sort of each run that shares hi (few and short, unless many
// entries name one network).
func sortPrefixes(ps []pfx) {
	const digit = 16
	tmp := make([]pfx, len(ps))
	src, dst := ps, tmp
	var count [1 << digit]int
	for shift := 0; shift < 64; shift += digit {
		var differ uint64
		for i := range src {
			differ |= src[i].hi ^ src[0].hi
		}
		if differ>>shift&(1<<digit-1) == 0 {
			continue // every key has this digit
		}
		clear(count[:])
		for i := range src {
			count[src[i].hi>>shift&(1<<digit-1)]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i := range src {
			d := src[i].hi >> shift & (1<<digit - 1)
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ps[0] {
		copy(ps, src)
	}
	for i := 0; i < len(ps); {
		j := i + 1
		for j < len(ps) && ps[j].hi == ps[i].hi {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(ps[i:j], comparePrefixes)
		}
		i = j
	}
}

func comparePrefixes(a, b pfx) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	if c := cmp.Compare(a.bits, b.bits); c != 0 {
		return c
	}
	if c := cmp.Compare(b.until, a.until); c != 0 { // the later Until first
		return c
	}
	return cmp.Compare(a.rec, b.rec)
}

func leaf(rec int32) uint32 { return uint32(rec + 1) }

// fill sets the 1<<s slots at pool[base:] of a node at depth d: ps are the
// prefixes inside its region and longer than d, sorted and without
// duplicates; cover is the longest prefix containing the whole region, or
// -1.
func (t *trie) fill(base int, d, s uint8, ps []pfx, cover int32) error {
	slots := t.pool[base : base+1<<s]
	for j := range slots {
		slots[j] = leaf(cover)
	}
	end := d + s
	for i := 0; i < len(ps); {
		p := &ps[i]
		j := chunk(p.hi, p.lo, d, s)
		if p.bits <= end {
			// It covers 1<<(end-bits) slots. A later prefix that overlaps
			// them lies inside it, so the longest ends up on top.
			span := t.pool[base+j : base+j+1<<(end-p.bits)]
			for k := range span {
				span[k] = leaf(p.rec)
			}
			i++
			continue
		}
		// The prefixes under slot j are contiguous; any prefix covering
		// slot j came before them, so the slot holds its final cover.
		k := i + 1
		for k < len(ps) && ps[k].bits > end && chunk(ps[k].hi, ps[k].lo, d, s) == j {
			k++
		}
		g := ps[i:k]
		i = k
		slotCover := int32(t.pool[base+j]) - 1
		if len(g) == 1 {
			t.pool[base+j] = leaf(g[0].rec)
			continue
		}
		// The node for g goes where g's prefixes diverge, or at the
		// shortest of them, which then covers the node's whole region.
		// That is below 128 (two distinct prefixes cannot both be /128
		// at one address), so it fits its 7 bits; past the width of an
		// IPv4 key the bits a node reads are zero, as they are in its
		// prefixes.
		at := commonLen(g[0].hi, g[0].lo, g[len(g)-1].hi, g[len(g)-1].lo)
		for q := range g {
			at = min(at, g[q].bits)
		}
		if g[0].bits == at {
			slotCover = g[0].rec
			g = g[1:]
		}
		if len(g) == 1 {
			// A chain of two: the record's parent is the cover.
			t.pool[base+j] = leaf(g[0].rec)
			continue
		}
		node := len(t.pool) / nodeSlots
		if node >= maxNodes {
			return errTooManyPrefixes
		}
		t.pool = append(t.pool, make([]uint32, nodeSlots)...)
		t.pool[base+j] = nodeBit | uint32(at)<<24 | uint32(node)
		if err := t.fill(node*nodeSlots, at, nodeBits, g, slotCover); err != nil {
			return err
		}
	}
	return nil
}
