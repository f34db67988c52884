package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/blocklist"
)

// gwctlBlock runs `gwctl block args...` and returns its exit code and output.
func gwctlBlock(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runBlock(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBlockAddListRemoveThroughKafka(t *testing.T) {
	c := testkafka.Start(t)
	brokers := strings.Join(c.ListenAddrs(), ",")

	// A guard's follower, to see the change arrive as a gateway would.
	f, err := blocklist.NewFollower(blocklist.Config{Brokers: c.ListenAddrs()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-f.Ready()
	client := netip.MustParseAddr("203.0.113.7")

	// Flags after the target, in both spellings, as people type them.
	code, out, errOut := gwctlBlock(t, "add", "203.0.113.7", "--ttl", "2m", "--reason", "credential stuffing", "-brokers", brokers)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "blocked ip:203.0.113.7 until ")
	assert.Eventually(t, func() bool { _, ok := f.List().Match(client, "", "", time.Now()); return ok },
		time.Second, 10*time.Millisecond, "a guard enforces gwctl block add within 1s")
	e, _ := f.List().Match(client, "", "", time.Now())
	assert.Equal(t, "credential stuffing", e.Reason)
	assert.Equal(t, "operator", e.Source)
	assert.Equal(t, 403, e.Status)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), e.Until, 2*time.Second)

	code, _, errOut = gwctlBlock(t, "add", "-brokers", brokers, "consumer:mallory", "--ttl=1h", "--status", "429", "--message", "slow down")
	require.Equal(t, 0, code, errOut)

	code, out, errOut = gwctlBlock(t, "list", "-brokers", brokers)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.True(t, strings.HasPrefix(lines[0], "SUBJECT"))
	assert.Contains(t, lines[1], "consumer:mallory")
	assert.Contains(t, lines[1], "429")
	assert.Contains(t, lines[2], "ip:203.0.113.7")
	assert.Contains(t, lines[2], "credential stuffing")

	code, out, errOut = gwctlBlock(t, "remove", "::ffff:203.0.113.7", "-brokers", brokers)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "removed ip:203.0.113.7\n", out, "the mapped spelling removes what the plain one added")
	assert.Eventually(t, func() bool { _, ok := f.List().Match(client, "", "", time.Now()); return !ok },
		time.Second, 10*time.Millisecond, "a guard lifts gwctl block remove within 1s")

	code, out, errOut = gwctlBlock(t, "list", "--json", "-brokers", brokers)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(out, "\n"), out)
	assert.Contains(t, out, `"subject":"consumer:mallory"`)
	assert.Contains(t, out, `"status":429`)

	// The topic holds what the contract says: the record, then a tombstone.
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	recs, err := testkafka.Read(rctx, c.ListenAddrs(), blocklist.DefaultTopic, func(rs []*kgo.Record) bool { return len(rs) >= 3 })
	require.NoError(t, err)
	var ipRecs []*kgo.Record
	for _, r := range recs {
		if string(r.Key) == "ip:203.0.113.7" {
			ipRecs = append(ipRecs, r)
		}
	}
	require.Len(t, ipRecs, 2)
	assert.Contains(t, string(ipRecs[0].Value), `"source":"operator"`)
	assert.Nil(t, ipRecs[1].Value, "remove writes a tombstone")
}

func TestBlockListOnAnEmptyTopicSaysSo(t *testing.T) {
	c := testkafka.Start(t)
	code, out, errOut := gwctlBlock(t, "list", "-brokers", strings.Join(c.ListenAddrs(), ","))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "no active blocks\n", out)
}

func TestBlockRejectsBadInputNamingIt(t *testing.T) {
	// No broker listens on 127.0.0.1:1: validation must fail before any
	// connection is tried.
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "an octet past 255", args: []string{"add", "203.0.113.999"}, want: `bad IP address "203.0.113.999"`},
		{name: "a prefix past /32", args: []string{"add", "203.0.113.0/33"}, want: `bad CIDR "203.0.113.0/33"`},
		{name: "a network with host bits set", args: []string{"add", "203.0.113.7/24"}, want: `"203.0.113.7/24": host bits are set (the network is 203.0.113.0/24)`},
		{name: "a host name", args: []string{"remove", "example.com"}, want: `"example.com"`},
		{name: "a zero TTL", args: []string{"add", "203.0.113.7", "--ttl", "0s"}, want: "--ttl: must be positive"},
		{name: "a negative TTL", args: []string{"add", "203.0.113.7", "--ttl", "-5m"}, want: "--ttl: must be positive"},
		{name: "a TTL finer than the record keeps", args: []string{"add", "203.0.113.7", "--ttl", "1500ms"}, want: "--ttl: 1.5s"},
		{name: "a TTL that is not a duration", args: []string{"add", "203.0.113.7", "--ttl", "2"}, want: "-ttl"},
		{name: "a status that lets requests through", args: []string{"add", "203.0.113.7", "--status", "200"}, want: "--status: 200"},
		{name: "no target", args: []string{"add", "--ttl", "2m"}, want: "want exactly one target"},
		{name: "two targets", args: []string{"remove", "203.0.113.7", "203.0.113.8"}, want: "got 2"},
		{name: "a target for list", args: []string{"list", "203.0.113.7"}, want: `unexpected argument "203.0.113.7"`},
		{name: "an unknown subcommand", args: []string{"drop", "203.0.113.7"}, want: `unknown subcommand "drop"`},
		{name: "no brokers", args: []string{"add", "203.0.113.7", "-brokers", " , "}, want: "-brokers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{}, tt.args...)
			if !strings.Contains(strings.Join(args, " "), "-brokers") {
				args = append(args, "-brokers", "127.0.0.1:1")
			}
			code, out, errOut := gwctlBlock(t, args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
		})
	}
}

func TestBlockReportsAnUnreachableBroker(t *testing.T) {
	code, _, errOut := gwctlBlock(t, "add", "203.0.113.7", "-brokers", "127.0.0.1:1", "-timeout", "300ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "write ip:203.0.113.7 to gatewatch.blocklist")

	code, _, errOut = gwctlBlock(t, "list", "-brokers", "127.0.0.1:1", "-timeout", "300ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "could not read gatewatch.blocklist to its end within 300ms")
}
