package blocklist

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clustered returns a prefix near one of bases: a few of its low bits
// flipped, cut at any length, so that prefixes nest, share long paths and
// differ only deep down: what makes a trie branch late, skip levels and
// fall back along long chains. Short prefixes (down to /0) are included.
func (r testRand) clustered(bases []netip.Addr) netip.Prefix {
	b := bases[r.IntN(len(bases))].AsSlice()
	w := len(b) * 8
	for i := r.IntN(4); i > 0; i-- {
		bit := w - 1 - r.IntN(w/4)
		if r.IntN(3) == 0 {
			bit = r.IntN(w)
		}
		b[bit/8] ^= 1 << (7 - bit%8)
	}
	a, _ := netip.AddrFromSlice(b)
	bits := w - r.IntN(w/3+1)
	if r.IntN(8) == 0 {
		bits = r.IntN(w + 1)
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// spell writes p as a subject value the way records may: with host bits
// set (the same network as p), or an IPv4 network IPv4-mapped.
func (r testRand) spell(p netip.Prefix) string {
	a := p.Addr()
	if r.IntN(4) == 0 && p.Bits() < a.BitLen() {
		b := a.AsSlice()
		b[len(b)-1] |= 1
		a, _ = netip.AddrFromSlice(b)
	}
	if a.Is4() && r.IntN(4) == 0 {
		return netip.PrefixFrom(netip.AddrFrom16(a.As16()), 96+p.Bits()).String()
	}
	return netip.PrefixFrom(a, p.Bits()).String()
}

// scan is what Match must answer for a CIDR list, by the obvious linear
// scan: of the entries naming one network the one with the latest Until
// stands for it (the first of them on a tie); of the networks containing
// the client, the longest whose entry is active at now wins.
type scan struct {
	es    []Entry
	stand map[netip.Prefix]int // network, as Match reads it, to the entry that stands for it
}

func newScan(t *testing.T, es []Entry) *scan {
	s := &scan{es: es, stand: map[netip.Prefix]int{}}
	for j, e := range es {
		p, err := prefixOf(e.Subject[len("cidr:"):])
		require.NoError(t, err)
		if k, ok := s.stand[p]; !ok || e.Until.After(es[k].Until) {
			s.stand[p] = j
		}
	}
	return s
}

func (s *scan) match(a netip.Addr, now time.Time) string {
	a = a.WithZone("").Unmap()
	best, want := -1, ""
	for p, j := range s.stand {
		if p.Contains(a) && s.es[j].Active(now) && p.Bits() > best {
			best, want = p.Bits(), s.es[j].Subject
		}
	}
	return want
}

func TestTrieAgreesWithALinearScanOnClusteredPrefixes(t *testing.T) {
	bases := []netip.Addr{
		netip.MustParseAddr("10.0.0.0"),
		netip.MustParseAddr("10.0.0.255"),
		netip.MustParseAddr("192.0.2.77"),
		netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8::ffff:0:1"),
		netip.MustParseAddr("2001:db8:0:1::"),
		netip.MustParseAddr("::ffff:10.0.0.0"), // IPv6 networks over the mapped range never cover IPv4 clients
		netip.MustParseAddr("::"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := newRand(seed)
			n := []int{3, 40, 300, 2000, 5000, 600}[seed-1]
			var es []Entry
			var nets []netip.Prefix
			for i := 0; i < n; i++ {
				p := r.clustered(bases)
				if r.IntN(4) == 0 {
					p = r.prefix()
				}
				if r.IntN(10) == 0 && len(nets) > 0 {
					p = nets[r.IntN(len(nets))] // the same network again
				}
				nets = append(nets, p)
				until := t0.Add(time.Duration(1+r.IntN(100)) * time.Minute)
				es = append(es, Entry{Subject: "cidr:" + r.spell(p), Kind: KindCIDR, Until: until})
			}
			m, err := NewMatcher(es)
			require.NoError(t, err)
			ref := newScan(t, es)
			for _, at := range []time.Duration{0, 30 * time.Minute, 70 * time.Minute, 101 * time.Minute} {
				now := t0.Add(at)
				for i := 0; i < 3000; i++ {
					var a netip.Addr
					switch r.IntN(5) {
					case 0:
						a = r.v4()
					case 1:
						a = r.v6()
					default:
						a = r.near(nets[r.IntN(len(nets))])
					}
					if a.Is4() && r.IntN(3) == 0 {
						a = netip.AddrFrom16(a.As16()) // the client seen IPv4-mapped
					} else if a.Is6() && !a.Is4In6() && r.IntN(8) == 0 {
						a = a.WithZone("eth0")
					}
					want := ref.match(a, now)
					got, ok := m.Match(a, "", "", now)
					require.Equal(t, want != "", ok, "%s at +%v: got %q want %q", a, at, subjectOf(got), want)
					require.Equal(t, want, subjectOf(got), "%s at +%v", a, at)
				}
			}
			// A trie node needs two prefixes under one slot, so there are
			// never more nodes than prefixes.
			tr := m.cidrs.trie
			roots := 0
			for _, r := range []int{tr.root4, tr.root6} {
				if r >= 0 {
					roots++
				}
			}
			nodes := (len(tr.pool) - roots<<rootBits) / nodeSlots
			require.LessOrEqual(t, nodes, len(es))
		})
	}
}

func TestTrieFallsBackAlongAChainOfExpiringPrefixes(t *testing.T) {
	// /8 ⊃ /16 ⊃ ... ⊃ /32 around one address, each expiring a minute
	// before the next shorter one; and the same in IPv6 with a /64 whose
	// neighbours diverge below it.
	var es []Entry
	for bits := 8; bits <= 32; bits += 4 {
		p := netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), bits).Masked()
		es = append(es, Entry{Subject: "cidr:" + p.String(), Kind: KindCIDR, Until: t0.Add(time.Duration(40-bits) * time.Minute)})
	}
	for bits := 32; bits <= 128; bits += 8 {
		p := netip.PrefixFrom(netip.MustParseAddr("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"), bits).Masked()
		es = append(es, Entry{Subject: "cidr:" + p.String(), Kind: KindCIDR, Until: t0.Add(time.Duration(130-bits) * time.Minute)})
	}
	m, err := NewMatcher(es)
	require.NoError(t, err)
	ref := newScan(t, es)
	for _, tt := range []struct{ ip, want string }{{"10.1.2.3", "10.1.2.3/32"}, {"10.1.2.4", "10.1.2.0/28"}, {"10.200.0.0", "10.0.0.0/8"}} {
		for minute := 0; minute <= 40; minute++ {
			now := t0.Add(time.Duration(minute) * time.Minute)
			want := ref.match(netip.MustParseAddr(tt.ip), now)
			got, _ := m.Match(netip.MustParseAddr(tt.ip), "", "", now)
			require.Equal(t, want, subjectOf(got), "%s at +%dm", tt.ip, minute)
			if minute == 0 {
				require.Equal(t, "cidr:"+tt.want, want)
			}
		}
	}
	a := netip.MustParseAddr("2001:db8:aaaa:bbbb:cccc:dddd:eeee:fffe")
	for minute := 0; minute <= 100; minute++ {
		now := t0.Add(time.Duration(minute) * time.Minute)
		got, _ := m.Match(a, "", "", now)
		require.Equal(t, ref.match(a, now), subjectOf(got), "at +%dm", minute)
	}
}

func TestExactTablesAgreeWithAMapAtEverySize(t *testing.T) {
	// Sizes around the points where a table doubles, keys of both
	// families, the same key spelt twice with different Untils, and
	// lookups of near neighbours (one bit off) that must not match.
	r := newRand(5)
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 1000, 4097} {
		var es []Entry
		want := map[netip.Addr]Entry{} // by unmapped address: the entry that stands
		for i := 0; i < n; i++ {
			a := r.v4()
			if i%3 == 0 {
				a = r.v6()
			}
			spelt := a
			if a.Is4() && r.IntN(3) == 0 {
				spelt = netip.AddrFrom16(a.As16())
			}
			e := Entry{Subject: "ip:" + spelt.String(), Kind: KindIP, Until: t0.Add(time.Duration(1+r.IntN(100)) * time.Minute)}
			es = append(es, e)
			if old, ok := want[a]; !ok || e.Until.After(old.Until) {
				want[a] = e
			}
			if r.IntN(5) == 0 { // the same address again, possibly the other spelling
				e2 := Entry{Subject: "ip:" + a.String(), Kind: KindIP, Until: t0.Add(time.Duration(1+r.IntN(100)) * time.Minute)}
				es = append(es, e2)
				if e2.Until.After(want[a].Until) {
					want[a] = e2
				}
			}
		}
		m, err := NewMatcher(es)
		require.NoError(t, err)
		require.Equal(t, len(want), m.Len(), "%d entries", n)
		now := t0.Add(50 * time.Minute)
		for a, e := range want {
			for _, probe := range []netip.Addr{a, netip.AddrFrom16(a.As16())} {
				got, ok := m.Match(probe, "", "", now)
				require.Equal(t, e.Active(now), ok, "%d entries: %s", n, probe)
				if ok {
					require.Equal(t, e.Subject, got.Subject)
					require.Equal(t, e.Until, got.Until)
				}
			}
			b := a.AsSlice()
			bit := r.IntN(len(b) * 8)
			b[bit/8] ^= 1 << (7 - bit%8)
			near, _ := netip.AddrFromSlice(b)
			near = near.Unmap()
			got, ok := m.Match(near, "", "", now)
			_, held := want[near]
			if !held {
				require.False(t, ok, "%d entries: %s matched %s", n, near, subjectOf(got))
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Log("the race detector allocates; checking results only")
	}
	m, err := NewMatcher([]Entry{
		entry(t, "ip:203.0.113.7", time.Hour),
		entry(t, "ip:2001:db8::7", time.Hour),
		entry(t, "cidr:192.0.2.0/24", time.Hour),
		entry(t, "cidr:2001:db8:1::/48", time.Hour),
		entry(t, "consumer:c0ffee", time.Hour),
	})
	require.NoError(t, err)
	for _, tt := range []struct {
		ip, consumer string
		want         bool
	}{
		{"203.0.113.7", "", true}, {"2001:db8::7", "", true}, {"192.0.2.1", "", true}, {"2001:db8:1::1", "", true},
		{"198.51.100.1", "c0ffee", true}, {"198.51.100.1", "someone", false}, {"2001:db8:2::1", "", false},
	} {
		ip := netip.MustParseAddr(tt.ip)
		var ok bool
		allocs := testing.AllocsPerRun(100, func() { _, ok = m.Match(ip, tt.consumer, "", t0) })
		require.Equal(t, tt.want, ok, tt.ip)
		if !raceEnabled {
			require.Zero(t, allocs, tt.ip)
		}
	}
}

func TestMatchReturnsTheMatchersOwnEntry(t *testing.T) {
	l := NewList()
	require.NoError(t, l.Apply(set(entry(t, "ip:203.0.113.7", time.Hour)), set(entry(t, "cidr:192.0.2.0/24", time.Hour))))
	ip := netip.MustParseAddr("203.0.113.7")
	first, ok := l.Match(ip, "", "", t0)
	require.True(t, ok)
	again, _ := l.Match(ip, "", "", t0)
	require.Same(t, first, again, "a hit is not a copy")
	// Replacing the entry publishes a new Matcher; the entry the reader
	// holds is the old one, unchanged.
	require.NoError(t, l.Apply(set(entry(t, "ip:203.0.113.7", 2*time.Hour))))
	require.Equal(t, t0.Add(time.Hour), first.Until)
	now, _ := l.Match(ip, "", "", t0)
	require.Equal(t, t0.Add(2*time.Hour), now.Until)
}

func TestExactTablesAloneFindEveryKeyAndNothingElse(t *testing.T) {
	// The filter turns most misses away before they reach a table, which
	// would hide a table that confuses keys. With a filter that always
	// says "maybe", the tables alone must answer exactly, for neighbours
	// one bit off in every position, and they must stay at most half full
	// so that a probe for an absent key ends.
	r := newRand(11)
	for _, n := range []int{1, 2, 3, 4, 5, 8, 9, 64, 3000} {
		var es []Entry
		held := map[netip.Addr]bool{}
		for i := 0; i < n; i++ {
			a := r.v4()
			if i%2 == 0 {
				a = r.v6()
			}
			held[a] = true
			es = append(es, Entry{Subject: "ip:" + a.String(), Kind: KindIP, Until: t0.Add(time.Hour)})
		}
		m, err := NewMatcher(es)
		require.NoError(t, err)
		tab := m.ips
		for i := range tab.filter {
			tab.filter[i] = ^uint64(0)
		}
		used := 0
		for _, b := range tab.v4 {
			for _, s := range b {
				if s.ref != 0 {
					used++
				}
			}
		}
		require.LessOrEqual(t, 2*used, len(tab.v4)*len(v4bucket{}), "%d entries: IPv4 table over half full", n)
		used = 0
		for _, b := range tab.v6 {
			for _, s := range b {
				if s.ref != 0 {
					used++
				}
			}
		}
		require.LessOrEqual(t, 2*used, len(tab.v6)*len(v6bucket{}), "%d entries: IPv6 table over half full", n)
		for a := range held {
			got, ok := m.Match(a, "", "", t0)
			require.True(t, ok, "%d entries: %s not found", n, a)
			require.Equal(t, "ip:"+a.String(), got.Subject)
			b := a.AsSlice()
			for bit := 0; bit < len(b)*8; bit++ {
				b[bit/8] ^= 1 << (7 - bit%8)
				near, _ := netip.AddrFromSlice(b)
				near = near.Unmap()
				b[bit/8] ^= 1 << (7 - bit%8)
				got, ok := m.Match(near, "", "", t0)
				require.Equal(t, held[near], ok, "%d entries: %s (held: %s) matched %s", n, near, a, subjectOf(got))
			}
		}
	}
}
