package blocklist

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func set(e Entry) Change        { return Change{Subject: e.Subject, Entry: e} }
func del(subject string) Change { return Change{Subject: subject, Deleted: true} }

func TestListApplySetsAndRemoves(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.7")
	tests := []struct {
		name    string
		changes []Change
		want    bool
		kinds   Kind
	}{
		{name: "a set entry matches", changes: []Change{set(entry(t, "ip:203.0.113.7", time.Hour))}, want: true, kinds: KindIP},
		{name: "a tombstone after the set removes it", changes: []Change{set(entry(t, "ip:203.0.113.7", time.Hour)), del("ip:203.0.113.7")}, kinds: 0},
		{name: "a set after the tombstone wins", changes: []Change{del("ip:203.0.113.7"), set(entry(t, "ip:203.0.113.7", time.Hour))}, want: true, kinds: KindIP},
		{name: "a tombstone for another spelling leaves the entry", changes: []Change{set(entry(t, "ip:203.0.113.7", time.Hour)), del("ip:::ffff:203.0.113.7")}, want: true, kinds: KindIP},
		{name: "a tombstone for an unknown subject is harmless", changes: []Change{del("cidr:10.0.0.0/8")}, kinds: 0},
		{name: "a later record for a subject replaces it", changes: []Change{set(entry(t, "ip:203.0.113.7", time.Hour)), set(entry(t, "ip:203.0.113.7", -time.Second))}, kinds: KindIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewList()
			require.NoError(t, l.Apply(tt.changes...))
			_, ok := l.Match(ip, "", "", t0)
			assert.Equal(t, tt.want, ok)
			assert.Equal(t, tt.kinds, l.Kinds())
		})
	}
}

func TestListApplyRefusesABadChangeWhole(t *testing.T) {
	l := NewList()
	good := set(entry(t, "ip:203.0.113.7", time.Hour))
	bad := Change{Subject: "ip:nope", Entry: Entry{Subject: "ip:nope", Kind: KindIP}}
	assert.ErrorContains(t, l.Apply(good, bad), "ip:nope")
	assert.Zero(t, l.Matcher().Len(), "nothing of a refused batch is applied")
	mismatch := Change{Subject: "ip:203.0.113.7", Entry: entry(t, "ip:203.0.113.8", time.Hour)}
	assert.ErrorContains(t, l.Apply(mismatch), "does not match")
}

func TestListPruneDropsOnlyExpiredEntries(t *testing.T) {
	l := NewList()
	require.NoError(t, l.Apply(set(entry(t, "ip:203.0.113.7", time.Minute)), set(entry(t, "consumer:bob", time.Hour))))
	before := l.Matcher()
	assert.Equal(t, 0, l.Prune(t0))
	assert.Equal(t, 1, l.Prune(t0.Add(time.Minute)))
	assert.Equal(t, KindConsumer, l.Kinds(), "the guard stops reading the client IP once no IP entry is left")
	require.Len(t, l.Entries(), 1)
	assert.Equal(t, "consumer:bob", l.Entries()[0].Subject)
	assert.Equal(t, 2, before.Len(), "a snapshot taken before is never modified")
}

func TestListReadersNeverSeeAHalfAppliedChange(t *testing.T) {
	// Each batch blocks one /24 and its .1 together; a reader must see both
	// or neither. Run with -race.
	l := NewList()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := itoa(i % 200)
			net, host := "cidr:10."+n+".0.0/24", "consumer:c"+n
			if err := l.Apply(set(entry(t, net, time.Hour)), set(entry(t, host, time.Hour))); err != nil {
				t.Error(err)
				return
			}
			if err := l.Apply(del(net), del(host)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for j := 0; j < 20000; j++ {
		n := itoa(j % 200)
		m := l.Matcher()
		_, byIP := m.Match(netip.MustParseAddr("10."+n+".0.1"), "", "", t0)
		_, byConsumer := m.Match(netip.Addr{}, "c"+n, "", t0)
		require.Equal(t, byIP, byConsumer, "batch %s seen half-applied", n)
	}
	close(stop)
	wg.Wait()
}
