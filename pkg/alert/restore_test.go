package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func restored(key string) Restored {
	return Restored{ID: AlertID("brute", key), Rule: "brute", GroupKey: key, StartsAt: t0,
		Labels: map[string]string{"alertname": "brute", "client_ip": key}, Annotations: map[string]string{"summary": "s"}, Value: 7, Source: 2}
}

func TestARestoredAlertIsHeldForOneWindowThenResolves(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	require.True(t, e.Restore(restored("203.0.113.7"), t0.Add(time.Minute)))
	require.Len(t, e.Firing(nil), 1)
	out := e.Advance(t0.Add(time.Minute+9*time.Second), nil)
	assert.Empty(t, out, "held while the 10s window refills")
	out = e.Advance(t0.Add(time.Minute+10*time.Second), nil)
	require.Len(t, out, 1)
	assert.Equal(t, Resolved, out[0].Status)
	assert.Equal(t, AlertID("brute", "203.0.113.7"), out[0].ID)
	assert.Equal(t, t0, out[0].StartsAt, "the resolution carries the original start")
}

func TestARestoredAlertDoesNotFireAgainWhenTheAttackGoesOn(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	now := t0.Add(time.Minute)
	require.True(t, e.Restore(restored("203.0.113.7"), now))
	var out []Alert
	for i := range 8 {
		out = e.ObserveFrom(authFailure("203.0.113.7", now.Add(time.Duration(i)*time.Second)), 2, out)
	}
	out = e.Advance(now.Add(11*time.Second), out)
	assert.Empty(t, out, "still over the threshold at 11s: no new firing, no resolution")
	out = e.Advance(now.Add(20*time.Second), out)
	require.Len(t, out, 1)
	assert.Equal(t, Resolved, out[0].Status)
}

func TestRestoreRefusesWhatNoLongerFits(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	r := restored("203.0.113.7")
	r.Rule = "gone"
	assert.False(t, e.Restore(r, t0), "a rule that no longer exists")
	r = restored("203.0.113.7")
	r.ID = "0000"
	assert.False(t, e.Restore(r, t0), "an ID from a different grouping")
	assert.True(t, e.Restore(restored("203.0.113.7"), t0))
	assert.False(t, e.Restore(restored("203.0.113.7"), t0), "a key already tracked")
}

func TestForgetDropsTheKeysOfPartitionsGivenAway(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	var out []Alert
	for i := range 5 {
		out = e.ObserveFrom(authFailure("192.0.2.1", t0.Add(time.Duration(i)*time.Millisecond)), 0, out)
		e.ObserveFrom(authFailure("192.0.2.2", t0.Add(time.Duration(i)*time.Millisecond)), 1, nil)
	}
	require.Len(t, out, 1)
	assert.Equal(t, int32(0), out[0].Source)
	assert.Equal(t, 1, e.Forget(map[int32]bool{0: true}))
	assert.Equal(t, map[string]float64{"192.0.2.2": 5}, e.Values("brute"))
	out = e.Advance(t0.Add(time.Hour), out[:0])
	require.Len(t, out, 1, "only the kept key's alert resolves here; the forgotten one is its new owner's")
	assert.Equal(t, "192.0.2.2", out[0].GroupKey)
	assert.Equal(t, 0, e.Stats()[0].Firing)
}

func TestRestoringDoesNotMakeABacklogLate(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	require.True(t, e.Restore(restored("203.0.113.7"), t0.Add(time.Hour)))
	e.Observe(authFailure("198.51.100.1", t0), nil)
	assert.Zero(t, e.Late(), "events from before the restart are judged by their own time")
}
