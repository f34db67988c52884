package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// tailEvents are the events the tail tests publish: one per id.
func tailEvents(now time.Time) []event.Event {
	mk := func(id string, age time.Duration, typ event.Type, sev event.Severity, ip, consumer, route string) event.Event {
		e := event.Event{SchemaVersion: 1, ID: id, Time: now.Add(-age), Type: typ, Severity: sev}
		e.Client.IP, e.Client.Consumer.Username, e.Kong.Route.Name = ip, consumer, route
		e.Request.Method, e.Request.Path = "GET", "/"+route
		return e
	}
	return []event.Event{
		mk("old", 3*time.Hour, event.AuthFailure, event.Medium, "203.0.113.7", "alice", "login"),
		mk("auth-alice", 30*time.Minute, event.AuthFailure, event.Medium, "203.0.113.7", "alice", "login"),
		mk("auth-bob", 20*time.Minute, event.AuthFailure, event.Medium, "198.51.100.4", "bob", "login"),
		mk("attack", 10*time.Minute, event.AttackDetected, event.Critical, "203.0.113.9", "", "orders"),
		mk("ratelimit", 5*time.Minute, event.RateLimited, event.Low, "2001:db8::5", "bob", "orders"),
		mk("kongerr", time.Minute, event.KongError, event.High, "", "", ""),
	}
}

func publishEvents(t *testing.T, brokers []string, evs []event.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("gatewatch.events"))
	require.NoError(t, err)
	defer cl.Close()
	for i := range evs {
		r := &kgo.Record{Key: []byte(evs[i].Client.IP), Value: evs[i].AppendJSON(nil)}
		require.NoError(t, cl.ProduceSync(context.Background(), r).FirstErr())
	}
}

func gwctlTail(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := runTail(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func ids(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e event.Event
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		got = append(got, e.ID)
	}
	return got
}

func TestTailFiltersEventsFromTheTopic(t *testing.T) {
	c := testkafka.Start(t)
	brokers := strings.Join(c.ListenAddrs(), ",")
	publishEvents(t, c.ListenAddrs(), tailEvents(time.Now()))

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"the last hour of everything leaves out older events", nil, []string{"auth-alice", "auth-bob", "attack", "ratelimit", "kongerr"}},
		{"a type filter keeps that type", []string{"-type", "auth.failure"}, []string{"auth-alice", "auth-bob"}},
		{"several types are comma-separated", []string{"-type", "attack.detected,kong.error"}, []string{"attack", "kongerr"}},
		{"a severity is a minimum", []string{"-severity", "high"}, []string{"attack", "kongerr"}},
		{"an IP matches exactly", []string{"-ip", "203.0.113.7"}, []string{"auth-alice"}},
		{"a network matches its addresses", []string{"-ip", "203.0.113.0/24"}, []string{"auth-alice", "attack"}},
		{"an IPv6 network works too", []string{"-ip", "2001:db8::/32"}, []string{"ratelimit"}},
		{"a consumer is matched by username", []string{"-consumer", "bob"}, []string{"auth-bob", "ratelimit"}},
		{"a route is matched by name", []string{"-route", "orders"}, []string{"attack", "ratelimit"}},
		{"-since reaches further back", []string{"-since", "4h", "-consumer", "alice"}, []string{"old", "auth-alice"}},
		{"-until ends the window", []string{"-since", "4h", "-until", "15m"}, []string{"old", "auth-alice", "auth-bob"}},
		{"filters combine", []string{"-type", "auth.failure", "-ip", "198.51.100.4", "-route", "login"}, []string{"auth-bob"}},
		{"no match prints nothing", []string{"-consumer", "mallory"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code, out, errOut := gwctlTail(t, ctx, append([]string{"-brokers", brokers, "-json"}, tt.args...)...)
			require.Equal(t, 0, code, errOut)
			assert.ElementsMatch(t, tt.want, ids(t, out))
		})
	}

	t.Run("-n stops after that many", func(t *testing.T) {
		code, out, errOut := gwctlTail(t, context.Background(), "-brokers", brokers, "-json", "-n", "1", "-type", "rate.limited,kong.error")
		require.Equal(t, 0, code, errOut)
		got := ids(t, out)
		require.Len(t, got, 1, "partitions interleave, so either one, but only one")
		assert.Subset(t, []string{"ratelimit", "kongerr"}, got)
	})
	t.Run("the summary form names type, severity, ip, consumer and route", func(t *testing.T) {
		code, out, errOut := gwctlTail(t, context.Background(), "-brokers", brokers, "-type", "auth.failure", "-consumer", "alice")
		require.Equal(t, 0, code, errOut)
		assert.Regexp(t, `^\S+Z medium\s+auth.failure\s+ip=203.0.113.7 consumer=alice route=login GET "/login"\n$`, out)
	})
	t.Run("-f follows events published after it started", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan string, 1)
		go func() {
			_, out, _ := gwctlTail(t, ctx, "-brokers", brokers, "-json", "-f", "-n", "1", "-since", "1s", "-type", "config.change")
			done <- out
		}()
		time.Sleep(300 * time.Millisecond)
		e := event.Event{SchemaVersion: 1, ID: "later", Time: time.Now(), Type: event.ConfigChange, Severity: event.High}
		publishEvents(t, c.ListenAddrs(), []event.Event{e})
		select {
		case out := <-done:
			assert.Equal(t, []string{"later"}, ids(t, out))
		case <-ctx.Done():
			t.Fatal("gwctl tail -f did not print the new event")
		}
	})
}

func TestTailOnAnEmptyTopicEndsAtOnce(t *testing.T) {
	c := testkafka.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, out, errOut := gwctlTail(t, ctx, "-brokers", strings.Join(c.ListenAddrs(), ","))
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)
}

func TestTailRejectsBadFlagsNamingThem(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown type is named", []string{"-type", "auth.fail"}, "-type"},
		{"an unknown severity is named", []string{"-severity", "urgent"}, "-severity"},
		{"a bad IP is named", []string{"-ip", "300.1.1.1"}, "-ip"},
		{"a bad network is named", []string{"-ip", "10.0.0.0/99"}, "-ip"},
		{"a bad since is named", []string{"-since", "yesterday"}, "-since"},
		{"a negative since is refused", []string{"-since", "-5m"}, "-since"},
		{"a negative limit is refused", []string{"-n", "-1"}, "-n"},
		{"no brokers is refused", []string{"-brokers", " "}, "-brokers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := gwctlTail(t, context.Background(), tt.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

func TestTailFilterMatch(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c, err := parseTailFlags([]string{"-ip", "::ffff:203.0.113.7"}, &strings.Builder{}, now)
	require.NoError(t, err)
	e := event.Event{Time: now, Severity: event.Low}
	e.Client.IP = "203.0.113.7"
	assert.True(t, c.filter.match(&e), "an IPv4-mapped filter matches the plain address")
	e.Client.IP = "not-an-ip"
	assert.False(t, c.filter.match(&e), "an event without a parsable IP does not match an IP filter")
}
