package blocklist

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// entry builds a valid entry for subject that blocks until t0+ttl.
func entry(t testing.TB, subject string, ttl time.Duration) Entry {
	t.Helper()
	k, err := subjectKind(subject)
	require.NoError(t, err)
	return Entry{Subject: subject, Kind: k, Until: t0.Add(ttl), Reason: "test " + subject, Source: "operator", Status: DefaultStatus, CreatedAt: t0}
}

func TestMatcherMatches(t *testing.T) {
	es := []Entry{
		entry(t, "ip:203.0.113.7", time.Hour),
		entry(t, "ip:2001:db8::7", time.Hour),
		entry(t, "ip:::ffff:198.51.100.9", time.Hour),
		entry(t, "cidr:192.0.2.0/24", time.Hour),
		entry(t, "cidr:192.0.2.128/25", time.Minute), // expires first
		entry(t, "cidr:10.0.0.0/8", time.Hour),
		entry(t, "cidr:2001:db8:1::/48", time.Hour),
		entry(t, "cidr:::ffff:100.64.0.0/106", time.Hour), // 100.64.0.0/10 written mapped
		entry(t, "cidr:0.0.0.0/0", -time.Minute),          // already expired: must never match
		entry(t, "consumer:c0ffee", time.Hour),
		entry(t, "apikey-fp:fp123", time.Hour),
	}
	m, err := NewMatcher(es)
	require.NoError(t, err)
	require.Equal(t, KindIP|KindCIDR|KindConsumer|KindAPIKeyFP, m.Kinds())

	tests := []struct {
		name     string
		ip       string
		consumer string
		fp       string
		at       time.Duration // after t0
		want     string        // subject that matches, "" for none
	}{
		{name: "an exact IPv4 address matches", ip: "203.0.113.7", want: "ip:203.0.113.7"},
		{name: "the next IPv4 address does not", ip: "203.0.113.8"},
		{name: "an IPv4 client seen IPv4-mapped matches the IPv4 entry", ip: "::ffff:203.0.113.7", want: "ip:203.0.113.7"},
		{name: "an entry written IPv4-mapped matches the plain IPv4 client", ip: "198.51.100.9", want: "ip:::ffff:198.51.100.9"},
		{name: "an exact IPv6 address matches", ip: "2001:db8::7", want: "ip:2001:db8::7"},
		{name: "an IPv6 address with a zone matches without it", ip: "2001:db8::7%eth0", want: "ip:2001:db8::7"},
		{name: "the first address of a /24 matches", ip: "192.0.2.0", want: "cidr:192.0.2.0/24"},
		{name: "the last address of the lower half of a /24 matches the /24", ip: "192.0.2.127", want: "cidr:192.0.2.0/24"},
		{name: "the upper half matches the longer /25", ip: "192.0.2.128", want: "cidr:192.0.2.128/25"},
		{name: "the last address of a /24 matches the /25", ip: "192.0.2.255", want: "cidr:192.0.2.128/25"},
		{name: "once the /25 expires the /24 takes over", ip: "192.0.2.200", at: time.Minute, want: "cidr:192.0.2.0/24"},
		{name: "the address after a /24 does not match", ip: "192.0.3.0"},
		{name: "the address before a /24 does not match", ip: "192.0.1.255"},
		{name: "a /8 covers deep addresses", ip: "10.255.255.255", want: "cidr:10.0.0.0/8"},
		{name: "a mapped CIDR entry covers plain IPv4 clients", ip: "100.127.255.255", want: "cidr:::ffff:100.64.0.0/106"},
		{name: "the address after the mapped CIDR does not match", ip: "100.128.0.0"},
		{name: "an IPv6 /48 covers its last address", ip: "2001:db8:1:ffff:ffff:ffff:ffff:ffff", want: "cidr:2001:db8:1::/48"},
		{name: "an IPv6 address outside the /48 does not match", ip: "2001:db8:2::"},
		{name: "an IPv6 address sharing the IPv4 bits does not match an IPv4 CIDR", ip: "c000:200::"},
		{name: "an IPv4-compatible form does not leak into IPv4 entries", ip: "::203.0.113.7"},
		{name: "the exact IP wins over the consumer", ip: "203.0.113.7", consumer: "c0ffee", want: "ip:203.0.113.7"},
		{name: "a consumer matches without an IP", consumer: "c0ffee", want: "consumer:c0ffee"},
		{name: "an unknown consumer does not match", consumer: "c0ffef"},
		{name: "an API-key fingerprint matches", ip: "203.0.113.8", fp: "fp123", want: "apikey-fp:fp123"},
		{name: "an entry stops matching exactly at its until", ip: "203.0.113.7", at: time.Hour},
		{name: "an entry matches the nanosecond before its until", ip: "203.0.113.7", at: time.Hour - 1, want: "ip:203.0.113.7"},
		{name: "nothing matches when nothing is given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			got, ok := m.Match(ip, tt.consumer, tt.fp, t0.Add(tt.at))
			if tt.want == "" {
				assert.False(t, ok, "matched %s", subjectOf(got))
				assert.Nil(t, got)
				return
			}
			require.True(t, ok)
			require.NotNil(t, got)
			assert.Equal(t, tt.want, got.Subject)
			assert.Equal(t, DefaultStatus, got.Status)
		})
	}
}

func TestMatcherKindsSaysWhichRequestPartsAreNeeded(t *testing.T) {
	tests := []struct {
		name                     string
		subjects                 []string
		wantIP, wantCons, wantFP bool
	}{
		{name: "an empty list needs nothing"},
		{name: "a consumer-only list needs only the consumer", subjects: []string{"consumer:a"}, wantCons: true},
		{name: "a CIDR needs the client IP", subjects: []string{"cidr:10.0.0.0/8"}, wantIP: true},
		{name: "an IP and a fingerprint need both", subjects: []string{"ip:10.0.0.1", "apikey-fp:x"}, wantIP: true, wantFP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es []Entry
			for _, s := range tt.subjects {
				es = append(es, entry(t, s, time.Hour))
			}
			m, err := NewMatcher(es)
			require.NoError(t, err)
			k := m.Kinds()
			assert.Equal(t, tt.wantIP, k.NeedsClientIP())
			assert.Equal(t, tt.wantCons, k.NeedsConsumer())
			assert.Equal(t, tt.wantFP, k.NeedsAPIKeyFP())
		})
	}
}

func TestMatcherKeepsTheLongerOfTwoEntriesOnOneKey(t *testing.T) {
	short := entry(t, "ip:203.0.113.7", time.Minute)
	long := entry(t, "ip:::ffff:203.0.113.7", time.Hour)
	shortNet := entry(t, "cidr:192.0.2.0/24", time.Minute)
	longNet := entry(t, "cidr:192.0.2.9/24", time.Hour) // same network, host bits set
	for _, order := range [][]Entry{{short, long, shortNet, longNet}, {long, short, longNet, shortNet}} {
		m, err := NewMatcher(order)
		require.NoError(t, err)
		got, ok := m.Match(netip.MustParseAddr("203.0.113.7"), "", "", t0.Add(30*time.Minute))
		require.True(t, ok)
		assert.Equal(t, long.Subject, got.Subject)
		got, ok = m.Match(netip.MustParseAddr("192.0.2.1"), "", "", t0.Add(30*time.Minute))
		require.True(t, ok)
		assert.Equal(t, longNet.Subject, got.Subject)
	}
}

func TestNewMatcherRejectsBadEntries(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
	}{
		{name: "a subject with an unknown kind", e: Entry{Subject: "host:example.com", Kind: KindIP}},
		{name: "a bad address", e: Entry{Subject: "ip:203.0.113.999", Kind: KindIP}},
		{name: "a kind that contradicts the subject", e: Entry{Subject: "ip:203.0.113.7", Kind: KindCIDR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMatcher([]Entry{tt.e})
			assert.ErrorContains(t, err, tt.e.Subject)
		})
	}
}

func TestTrieAgreesWithNetipContains(t *testing.T) {
	// The trie against the obvious linear scan, on random prefixes and
	// addresses drawn close to them so that boundaries are exercised.
	r := newRand(1)
	var es []Entry
	var prefixes []netip.Prefix
	for i := 0; i < 2000; i++ {
		p := r.prefix()
		prefixes = append(prefixes, p)
		es = append(es, Entry{Subject: "cidr:" + p.String(), Kind: KindCIDR, Until: t0.Add(time.Duration(1+r.Intn(100)) * time.Minute)})
	}
	m, err := NewMatcher(es)
	require.NoError(t, err)
	now := t0.Add(50 * time.Minute)
	for i := 0; i < 20000; i++ {
		a := r.near(prefixes[r.Intn(len(prefixes))])
		wantBits, want := -1, ""
		for j, p := range prefixes {
			if p.Contains(a) && es[j].Active(now) && p.Bits() > wantBits {
				wantBits, want = p.Bits(), es[j].Subject
			} else if p.Contains(a) && es[j].Active(now) && p.Bits() == wantBits && es[j].Until.After(mustFind(es, want).Until) {
				want = es[j].Subject
			}
		}
		got, ok := m.Match(a, "", "", now)
		if want == "" {
			require.False(t, ok, "address %s matched %s", a, subjectOf(got))
			continue
		}
		require.True(t, ok, "address %s: want %s", a, want)
		gp := netip.MustParsePrefix(got.Subject[len("cidr:"):])
		require.Equal(t, wantBits, gp.Bits(), "address %s: got %s want %s", a, got.Subject, want)
		require.True(t, gp.Contains(a))
	}
}

// subjectOf is e's subject, or "" for no entry.
func subjectOf(e *Entry) string {
	if e == nil {
		return ""
	}
	return e.Subject
}

func mustFind(es []Entry, subject string) Entry {
	for _, e := range es {
		if e.Subject == subject {
			return e
		}
	}
	return Entry{}
}

func TestExactTablesFindEveryEntryAndNothingElse(t *testing.T) {
	// The filters in front of the IP and string maps may only ever say
	// "maybe": every entry must still be found, in lists of every size.
	r := newRand(3)
	for _, n := range []int{1, 100, 20000} {
		var es []Entry
		held := map[netip.Addr]bool{}
		for i := 0; i < n; i++ {
			a := r.v4()
			if i%3 == 0 {
				a = r.v6()
			}
			held[a] = true
			es = append(es, Entry{Subject: "ip:" + a.String(), Kind: KindIP, Until: t0.Add(time.Hour)})
			es = append(es, Entry{Subject: "consumer:c" + itoa(i), Kind: KindConsumer, Until: t0.Add(time.Hour)})
		}
		m, err := NewMatcher(es)
		require.NoError(t, err)
		for a := range held {
			_, ok := m.Match(a, "", "", t0)
			require.True(t, ok, "%d entries: %s not found", n, a)
		}
		for i := 0; i < n; i++ {
			_, ok := m.Match(netip.Addr{}, "c"+itoa(i), "", t0)
			require.True(t, ok, "%d entries: consumer c%d not found", n, i)
			_, ok = m.Match(netip.Addr{}, "d"+itoa(i), "", t0)
			require.False(t, ok)
		}
		for i := 0; i < 10000; i++ {
			a := r.v4()
			_, ok := m.Match(a, "", "", t0)
			require.Equal(t, held[a], ok, "%s", a)
		}
	}
}
