package alert

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

var testEvent = event.Event{
	SchemaVersion: 1, ID: "x", Time: t0, Type: event.AuthFailure, Severity: event.Low,
	Client: event.Client{IP: "203.0.113.7"},
}

func authFailure(ip string, at time.Time) *event.Event {
	e := testEvent
	e.Client.IP = ip
	e.Time = at
	e.Kong.Route.Name = "login"
	e.Detail.Mechanism = "basic-auth"
	return &e
}

func mustParse(t testing.TB, rules string) *RuleSet {
	t.Helper()
	rs, err := Parse("test.yaml", []byte(rules))
	require.NoError(t, err)
	return rs
}

const bruteRule = `
lateness: 5s
rules:
  - name: brute
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 10s
    resolution: 1s
    threshold: {count: 5}
    severity: high
    labels: {team: security}
    annotations:
      summary: "{{ .Value }} failures from {{ .Labels.client_ip }} on {{ .Field \"kong.route.name\" }}"
      runbook_url: docs/runbooks/brute.md
    actions: {block: {ttl: 1m}, annotate: true}
`

func TestACountRuleFiresOnTheThresholdEventAndResolvesWhenTheWindowEmpties(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	var out []Alert
	for i := range 4 {
		out = e.Observe(authFailure("203.0.113.7", t0.Add(time.Duration(i)*time.Second)), out)
	}
	assert.Empty(t, out, "four failures are below the threshold")
	out = e.Observe(authFailure("203.0.113.7", t0.Add(4*time.Second)), out)
	require.Len(t, out, 1)
	a := out[0]
	assert.Equal(t, Firing, a.Status)
	assert.Equal(t, AlertID("brute", "203.0.113.7"), a.ID)
	assert.Equal(t, map[string]string{"alertname": "brute", "severity": "high", "team": "security", "client_ip": "203.0.113.7", "source": "gatewatch"}, a.Labels)
	assert.Equal(t, "5 failures from 203.0.113.7 on login", a.Annotations["summary"])
	assert.Equal(t, "docs/runbooks/brute.md", a.Annotations["runbook_url"])
	assert.Equal(t, t0.Add(4*time.Second), a.StartsAt)

	out = e.Observe(authFailure("203.0.113.7", t0.Add(5*time.Second)), out[:0])
	assert.Empty(t, out, "a firing alert does not fire again")
	require.Len(t, e.Firing(nil), 1)

	out = e.Advance(t0.Add(10*time.Second), out[:0])
	assert.Empty(t, out, "at 10s the window (0s,10s] still holds five failures")
	out = e.Advance(t0.Add(12*time.Second), out[:0])
	require.Len(t, out, 1, "at 12s only the failures at 3s, 4s and 5s remain")
	assert.Equal(t, Resolved, out[0].Status)
	assert.Equal(t, a.ID, out[0].ID)
	assert.Equal(t, t0.Add(12*time.Second), out[0].EndsAt)
	assert.Empty(t, e.Firing(nil))
}

func TestEventsOutOfOrderWithinLatenessCountInTheirOwnBucket(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	times := []int{9, 5, 6, 8, 7} // seconds; arrive out of order, all within 5s lateness of 9s
	var out []Alert
	for _, s := range times {
		out = e.Observe(authFailure("198.51.100.1", t0.Add(time.Duration(s)*time.Second)), out)
	}
	require.Len(t, out, 1)
	assert.Equal(t, map[string]float64{"198.51.100.1": 5}, e.Values("brute"))
}

func TestAnEventOlderThanTheLatenessAllowanceIsDroppedAndCounted(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	e.Observe(authFailure("198.51.100.1", t0.Add(20*time.Second)), nil)
	e.Observe(authFailure("198.51.100.1", t0.Add(14*time.Second)), nil) // 6s late, allowance 5s
	e.Observe(authFailure("198.51.100.1", t0.Add(16*time.Second)), nil) // 4s late: counts
	assert.Equal(t, uint64(1), e.Late())
	assert.Equal(t, map[string]float64{"198.51.100.1": 2}, e.Values("brute"))
}

func TestAnEventFromAClockFarAheadIsClampedToTheCaller(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	e.Advance(t0, nil)
	e.Observe(authFailure("198.51.100.1", t0.Add(24*time.Hour)), nil)
	e.Observe(authFailure("198.51.100.2", t0.Add(time.Second)), nil)
	assert.Zero(t, e.Late(), "one bad clock must not make every other event late")
	assert.Equal(t, t0.Add(time.Second), e.Watermark())
}

func TestForDelaysFiringUntilTheThresholdHeldThatLong(t *testing.T) {
	rs := mustParse(t, `
rules:
  - name: slow
    match: {types: [latency.slow]}
    group_by: [kong.route.name]
    window: 10s
    threshold: {count: 2}
    for: 3s
    resolve_after: 2s
    annotations: {summary: slow, runbook_url: docs/runbooks/slow.md}
    actions: {annotate: true}
`)
	e := NewEngine(rs)
	ev := func(s int) *event.Event {
		x := testEvent
		x.Type, x.Time, x.Kong.Route.Name = event.LatencySlow, t0.Add(time.Duration(s)*time.Second), "api"
		return &x
	}
	var out []Alert
	out = e.Observe(ev(0), out)
	out = e.Observe(ev(1), out)
	assert.Empty(t, out, "pending, not firing")
	out = e.Advance(t0.Add(3*time.Second), out)
	assert.Empty(t, out, "held for 2s only")
	out = e.Advance(t0.Add(4*time.Second), out)
	require.Len(t, out, 1, "held for 3s")
	out = e.Advance(t0.Add(11*time.Second), out[:0])
	assert.Empty(t, out, "below since 11s, resolve_after 2s")
	out = e.Advance(t0.Add(13*time.Second), out)
	require.Len(t, out, 1)
	assert.Equal(t, Resolved, out[0].Status)
}

func TestADistinctRuleCountsValuesNotEvents(t *testing.T) {
	rs := mustParse(t, `
rules:
  - name: stuffing
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 1m
    threshold: {distinct: {field: detail.identity.value, count: 3}}
    annotations: {summary: "{{ .Value }} identities", runbook_url: docs/runbooks/stuffing.md}
    actions: {annotate: true}
`)
	e := NewEngine(rs)
	var out []Alert
	for i, user := range []string{"alice", "alice", "bob", "bob", "alice", "carol"} {
		ev := authFailure("192.0.2.9", t0.Add(time.Duration(i)*time.Second))
		ev.Detail.Identity = &event.Identity{Kind: "username", Value: user}
		out = e.Observe(ev, out)
		if user != "carol" {
			assert.Empty(t, out, "only %d distinct after %s", i, user)
		}
	}
	require.Len(t, out, 1)
	assert.Equal(t, "3 identities", out[0].Annotations["summary"])
}

func TestADistinctKeyKeepsNoMoreValuesThanItsThreshold(t *testing.T) {
	rs := mustParse(t, `
rules:
  - name: paths
    match: {types: [route.not_found]}
    group_by: [client.ip]
    window: 1m
    threshold: {distinct: {field: request.path, count: 10}}
    annotations: {summary: scan, runbook_url: docs/runbooks/paths.md}
    actions: {annotate: true}
`)
	e := NewEngine(rs)
	for i := range 1000 {
		ev := authFailure("192.0.2.9", t0.Add(time.Duration(i)*time.Millisecond))
		ev.Type = event.RouteNotFound
		ev.Request.Path = fmt.Sprintf("/p%d", i)
		e.Observe(ev, nil)
	}
	k := e.rules[0].keys["192.0.2.9"]
	assert.LessOrEqual(t, len(k.distinct), 10)
	assert.Equal(t, map[string]float64{"192.0.2.9": 10}, e.Values("paths"))
}

func TestARatioRuleNeedsItsMinimumTotal(t *testing.T) {
	rs := mustParse(t, `
rules:
  - name: errors
    match: {types: [upstream.error]}
    group_by: [kong.route.name]
    window: 1m
    threshold:
      ratio: {of: {types: [request.logged]}, at_least: 0.25, min_total: 8}
    annotations: {summary: "{{ percent .Value }} errors", runbook_url: docs/runbooks/errors.md}
    actions: {annotate: true}
`)
	e := NewEngine(rs)
	ev := func(ty event.Type, i int) *event.Event {
		x := testEvent
		x.Type, x.Time, x.Kong.Route.Name = ty, t0.Add(time.Duration(i)*time.Millisecond), "orders"
		return &x
	}
	var out []Alert
	for i := range 4 {
		out = e.Observe(ev(event.RequestLogged, i), out)
	}
	out = e.Observe(ev(event.UpstreamError, 4), out)
	out = e.Observe(ev(event.UpstreamError, 5), out)
	assert.Empty(t, out, "2 of 4 is 50 %, but only 4 requests")
	for i := 6; i < 10; i++ {
		out = e.Observe(ev(event.RequestLogged, i), out)
	}
	require.Len(t, out, 1, "2 of 8 is 25 %")
	assert.Equal(t, "25% errors", out[0].Annotations["summary"])
}

func TestFieldConditionsSelectEvents(t *testing.T) {
	rs := mustParse(t, `
rules:
  - name: sel
    match:
      types: [auth.failure, access.denied]
      severity_at_least: medium
      where:
        client.ip: {not_cidr: [10.0.0.0/8, "2001:db8::/32"]}
        kong.route.name: {prefix: [admin-]}
        detail.mechanism: {in: [key-auth, jwt]}
    window: 1m
    threshold: {count: 1}
    annotations: {summary: s, runbook_url: docs/runbooks/sel.md}
    actions: {annotate: true}
`)
	m := rs.Rules[0].Match
	base := func() *event.Event {
		e := testEvent
		e.Severity, e.Client.IP, e.Kong.Route.Name, e.Detail.Mechanism = event.High, "198.51.100.4", "admin-keys", "jwt"
		return &e
	}
	tests := []struct {
		name   string
		change func(*event.Event)
		want   bool
	}{
		{"an event meeting every condition matches", func(*event.Event) {}, true},
		{"another listed type matches", func(e *event.Event) { e.Type = event.AccessDenied }, true},
		{"an unlisted type does not", func(e *event.Event) { e.Type = event.RateLimited }, false},
		{"a lower severity does not", func(e *event.Event) { e.Severity = event.Low }, false},
		{"an address inside an excluded network does not", func(e *event.Event) { e.Client.IP = "10.1.2.3" }, false},
		{"an IPv6 address inside an excluded network does not", func(e *event.Event) { e.Client.IP = "2001:db8::5" }, false},
		{"a mapped IPv4 address inside an excluded network does not", func(e *event.Event) { e.Client.IP = "::ffff:10.1.2.3" }, false},
		{"a route without the prefix does not", func(e *event.Event) { e.Kong.Route.Name = "public" }, false},
		{"a mechanism not in the list does not", func(e *event.Event) { e.Detail.Mechanism = "basic-auth" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			tt.change(e)
			assert.Equal(t, tt.want, m.Matches(e))
		})
	}
}

func TestOutsideHoursMatchesOnlyOutsideTheDailyWindow(t *testing.T) {
	tests := []struct {
		name, window string
		at           time.Time
		want         bool
	}{
		{"a change at noon is inside 08-18", "08:00-18:00", t0.Truncate(24 * time.Hour).Add(12 * time.Hour), false},
		{"a change at 18:00 is outside 08-18", "08:00-18:00", t0.Truncate(24 * time.Hour).Add(18 * time.Hour), true},
		{"a change at 03:00 is outside 08-18", "08:00-18:00", t0.Truncate(24 * time.Hour).Add(3 * time.Hour), true},
		{"a change at 23:30 is inside a window wrapping midnight", "22:00-02:00", t0.Truncate(24 * time.Hour).Add(23*time.Hour + 30*time.Minute), false},
		{"a change at 12:00 is outside a window wrapping midnight", "22:00-02:00", t0.Truncate(24 * time.Hour).Add(12 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustParse(t, `
rules:
  - name: change
    match: {types: [config.change], outside_hours: "`+tt.window+`"}
    window: 1m
    threshold: {count: 1}
    annotations: {summary: s, runbook_url: docs/runbooks/change.md}
    actions: {annotate: true}
`)
			e := testEvent
			e.Type, e.Time = event.ConfigChange, tt.at
			assert.Equal(t, tt.want, rs.Rules[0].Match.Matches(&e))
		})
	}
}

func TestTheKeyCapEvictsTheLeastRecentlySeenKeyAndCountsIt(t *testing.T) {
	rs := mustParse(t, "max_keys_per_rule: 3\n"+bruteRule)
	e := NewEngine(rs)
	var out []Alert
	for i := range 5 {
		out = e.Observe(authFailure("192.0.2.1", t0.Add(time.Duration(i)*time.Millisecond)), out)
	}
	require.Len(t, out, 1, "192.0.2.1 fires")
	e.Observe(authFailure("192.0.2.2", t0.Add(10*time.Millisecond)), nil)
	e.Observe(authFailure("192.0.2.3", t0.Add(11*time.Millisecond)), nil)
	e.Observe(authFailure("192.0.2.2", t0.Add(12*time.Millisecond)), nil)
	out = e.Observe(authFailure("192.0.2.4", t0.Add(13*time.Millisecond)), out[:0])
	require.Len(t, out, 1, "evicting the firing key resolves its alert")
	assert.Equal(t, Resolved, out[0].Status)
	assert.True(t, out[0].Evicted)
	st := e.Stats()[0]
	assert.Equal(t, 3, st.Keys)
	assert.Equal(t, uint64(1), st.Evicted)
	assert.Equal(t, map[string]float64{"192.0.2.2": 2, "192.0.2.3": 1, "192.0.2.4": 1}, e.Values("brute"))
}

func TestIdleKeysAreEvictedOnceTheirWindowEmpties(t *testing.T) {
	e := NewEngine(mustParse(t, bruteRule))
	for i := range 100 {
		e.Observe(authFailure(fmt.Sprintf("192.0.2.%d", i), t0), nil)
	}
	e.Advance(t0.Add(5*time.Second), nil)
	assert.Equal(t, 100, e.Stats()[0].Keys)
	e.Advance(t0.Add(12*time.Second), nil)
	assert.Equal(t, 0, e.Stats()[0].Keys)
	assert.Equal(t, uint64(100), e.Stats()[0].IdleEvicts)
}

// partition stands in for Kafka's key partitioning: every event of one
// client IP goes to one partition, hence to one instance.
func partition(ip string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(ip))
	return int(h.Sum32() % uint32(n))
}

// Two instances each see the events of the partitions they own. For rules
// grouped by client IP each key lives wholly in one instance, so values are
// exact. For other keys each instance holds a share: the documented bound
// is that the shares add up to the single-instance value, none exceeds it,
// and a rule fires on an instance only if it would fire on one.
func TestSplittingPartitionsKeepsPerIPValuesExactAndBoundsOtherKeys(t *testing.T) {
	rules := `
rules:
  - name: per-ip
    match: {types: [auth.failure]}
    group_by: [client.ip]
    window: 1m
    threshold: {count: 1000000}
    annotations: {summary: s, runbook_url: docs/runbooks/per-ip.md}
    actions: {annotate: true}
  - name: per-route
    match: {types: [auth.failure]}
    group_by: [kong.route.name]
    window: 1m
    threshold: {count: 1000000}
    annotations: {summary: s, runbook_url: docs/runbooks/per-route.md}
    actions: {annotate: true}
`
	single := NewEngine(mustParse(t, rules))
	split := []*Engine{NewEngine(mustParse(t, rules)), NewEngine(mustParse(t, rules))}
	for i := range 5000 {
		ip := fmt.Sprintf("198.51.%d.%d", i%7, i%37)
		ev := authFailure(ip, t0.Add(time.Duration(i)*time.Millisecond))
		ev.Kong.Route.Name = fmt.Sprintf("route-%d", i%3)
		single.Observe(ev, nil)
		split[partition(ip, 2)].Observe(ev, nil)
	}
	for _, e := range split {
		e.Advance(single.Watermark(), nil)
	}
	merged := map[string]float64{}
	for _, e := range split {
		for k, v := range e.Values("per-ip") {
			_, dup := merged[k]
			require.False(t, dup, "IP %s is tracked by both instances", k)
			merged[k] = v
		}
	}
	assert.Equal(t, single.Values("per-ip"), merged, "per-IP values are exact")

	whole := single.Values("per-route")
	sum := map[string]float64{}
	for _, e := range split {
		for k, v := range e.Values("per-route") {
			assert.LessOrEqual(t, v, whole[k], "a share never exceeds the whole")
			sum[k] += v
		}
	}
	assert.Equal(t, whole, sum, "per-route shares add up to the single-instance value")
}
