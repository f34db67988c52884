package blocklist

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// testRand draws addresses and prefixes for property tests and benchmarks,
// deterministically per seed.
type testRand struct{ *rand.Rand }

func newRand(seed uint64) testRand {
	return testRand{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (r testRand) v4() netip.Addr {
	var b [4]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(b)
}

func (r testRand) v6() netip.Addr {
	var b [16]byte
	b[0], b[1] = 0x20, 0x01 // global unicast, never IPv4-mapped
	for i := 2; i < 16; i++ {
		b[i] = byte(r.Uint32())
	}
	return netip.AddrFrom16(b)
}

// prefix returns a masked prefix, four in five of them IPv4 /8-/32.
func (r testRand) prefix() netip.Prefix {
	if r.IntN(5) > 0 {
		return netip.PrefixFrom(r.v4(), 8+r.IntN(25)).Masked()
	}
	return netip.PrefixFrom(r.v6(), 16+r.IntN(113)).Masked()
}

// blockPrefix is prefix as blocklists hold them: IPv4 /16 to /32 (a /8
// would put most of the address space on the list), IPv6 as prefix.
func (r testRand) blockPrefix() netip.Prefix {
	if r.IntN(5) > 0 {
		return netip.PrefixFrom(r.v4(), 16+r.IntN(17)).Masked()
	}
	return netip.PrefixFrom(r.v6(), 16+r.IntN(113)).Masked()
}

// near returns an address inside p, or just outside one of its ends.
func (r testRand) near(p netip.Prefix) netip.Addr {
	first := p.Addr()
	b := first.AsSlice()
	host := len(b)*8 - p.Bits()
	for i := 0; i < host; i++ {
		if r.IntN(2) == 1 {
			bit := len(b)*8 - 1 - i
			b[bit/8] |= 1 << (7 - bit%8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	switch r.IntN(4) {
	case 0:
		return first.Prev()
	case 1:
		last := first
		for i := 0; i < host; i++ {
			bit := len(b)*8 - 1 - i
			lb := last.AsSlice()
			lb[bit/8] |= 1 << (7 - bit%8)
			last, _ = netip.AddrFromSlice(lb)
		}
		if r.IntN(2) == 0 {
			return last
		}
		return last.Next()
	}
	return a
}

// Intn keeps the math/rand spelling in the tests.
func (r testRand) Intn(n int) int { return r.IntN(n) }

// benchProbes are lookups for a benchmark: requests from clients (or
// consumers) on the list and not on it, each set shuffled.
type benchProbes struct {
	hitIPs, missIPs []netip.Addr
	hitIDs, missIDs []string
}

// benchMatcher builds n entries of the given mix ("ip", "cidr" or "mixed":
// half IPs, a quarter CIDRs, a quarter consumers) and probes for them.
func benchMatcher(b *testing.B, n int, mix string) (*Matcher, benchProbes) {
	b.Helper()
	r := newRand(7)
	es := make([]Entry, 0, n)
	var p benchProbes
	until := t0.Add(time.Hour)
	for i := 0; i < n; i++ {
		var e Entry
		kind := mix
		if mix == "mixed" {
			kind = []string{"ip", "ip", "cidr", "consumer"}[i%4]
		}
		switch kind {
		case "ip":
			a := r.v4()
			if i%5 == 0 {
				a = r.v6()
			}
			e = Entry{Subject: "ip:" + a.String(), Kind: KindIP}
			p.hitIPs = append(p.hitIPs, a)
		case "cidr":
			pre := r.blockPrefix()
			e = Entry{Subject: "cidr:" + pre.String(), Kind: KindCIDR}
			a := r.near(pre)
			for !pre.Contains(a) {
				a = r.near(pre)
			}
			p.hitIPs = append(p.hitIPs, a)
		case "consumer":
			id := fmt.Sprintf("consumer-%08x", r.Uint32())
			e = Entry{Subject: "consumer:" + id, Kind: KindConsumer}
			p.hitIDs = append(p.hitIDs, id)
		}
		e.Until = until
		es = append(es, e)
	}
	m, err := NewMatcher(es)
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Minute)
	for tries := 0; len(p.missIPs) < 100_000; tries++ {
		if tries > 10_000_000 {
			b.Fatal("cannot find addresses off the list")
		}
		a := r.v4()
		if tries%5 == 0 {
			a = r.v6()
		}
		if _, hit := m.Match(a, "", "", now); !hit {
			p.missIPs = append(p.missIPs, a)
		}
	}
	for i := 0; i < 100_000; i++ {
		p.missIDs = append(p.missIDs, fmt.Sprintf("other-%08x", r.Uint32()))
	}
	r.Shuffle(len(p.hitIPs), func(i, j int) { p.hitIPs[i], p.hitIPs[j] = p.hitIPs[j], p.hitIPs[i] })
	if len(p.hitIPs) == 0 {
		p.hitIPs = []netip.Addr{{}}
	}
	if len(p.hitIDs) == 0 {
		p.hitIDs = []string{""}
	}
	return m, p
}

// BenchmarkMatch measures one lookup in a list of 100 000 entries: what
// the guard pays per request when the list is large.
//
//   - miss: a request from a client not on the list, the common case; the
//     100 000 probes are distinct and shuffled, so nearly every lookup
//     misses the CPU caches (the worst case for a miss);
//   - hit: a request from a client on the list, likewise cold; it also
//     copies the entry out;
//   - hot: 1 024 distinct clients, half on the list, as a gateway whose
//     traffic comes from that many clients at a time would see.
//
// Every lookup passes a consumer id too, so "mixed" pays the IP, CIDR and
// consumer lookups on a miss. cpu-ns/op is the thread's CPU time per
// lookup: on a shared machine ns/op also counts time spent waiting for a
// core.
func BenchmarkMatch(b *testing.B) {
	for _, mix := range []string{"ip", "cidr", "mixed"} {
		m, p := benchMatcher(b, 100_000, mix)
		hotIPs := append(append([]netip.Addr{}, p.hitIPs[:512]...), p.missIPs[:512]...)
		hotIDs := append(append([]string{}, p.hitIDs[:min(512, len(p.hitIDs))]...), p.missIDs[:512]...)
		for _, set := range []struct {
			name     string
			ips      []netip.Addr
			ids      []string
			wantHits bool
		}{
			{"miss", p.missIPs, p.missIDs, false},
			{"hit", p.hitIPs, p.hitIDs, true},
			{"hot", hotIPs, hotIDs, true},
		} {
			b.Run(mix+"-100k/"+set.name, func(b *testing.B) {
				now := t0.Add(time.Minute)
				hits := 0
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ReportAllocs()
				cpu0, cpuOK := threadCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, ok := m.Match(set.ips[i%len(set.ips)], set.ids[i%len(set.ids)], "", now); ok {
						hits++
					}
				}
				b.StopTimer()
				if cpu1, ok := threadCPU(); ok && cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
				if (hits > 0) != set.wantHits {
					b.Fatalf("%d of %d probes matched", hits, b.N)
				}
			})
		}
	}
}

// BenchmarkBuild measures rebuilding one kind's table, which List.Apply
// does on every change to that kind.
func BenchmarkBuild(b *testing.B) {
	for _, kind := range []string{"ip", "cidr"} {
		b.Run(kind+"-100k", func(b *testing.B) {
			m, _ := benchMatcher(b, 100_000, kind)
			es := m.Entries()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := NewMatcher(es); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
