package syslog_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/syslog"
	"github.com/gatewatch/gatewatch/pkg/syslog/syslogtest"
)

func frames(prefix string, n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = syslog.AppendFrame(b, fmt.Appendf(nil, "<134>1 - - - - - - %s-%d", prefix, i))
	}
	return b
}

// acceptAll polls Accepted until want tokens have come back.
func acceptAll(t *testing.T, ctx context.Context, c *syslog.Client, want int) []any {
	t.Helper()
	var got []any
	for len(got) < want {
		require.NoError(t, ctx.Err(), "have %d of %d accepted", len(got), want)
		acc, err := c.Accepted(ctx)
		require.NoError(t, err, "have %d of %d", len(got), want)
		got = append(got, acc...)
		time.Sleep(5 * time.Millisecond)
	}
	return got
}

func received(col *syslogtest.Collector) map[string]int {
	out := map[string]int{}
	for _, m := range col.Messages() {
		out[string(m)]++
	}
	return out
}

func TestBatchesArriveInOrderAndAreAcceptedOnlyAfterSettling(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: 200 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for i := 0; i < 3; i++ {
		require.NoError(t, c.Send(ctx, frames(fmt.Sprint("b", i), 10), i))
	}
	acc, err := c.Accepted(ctx)
	require.NoError(t, err)
	assert.Empty(t, acc, "nothing is accepted before the settle time")
	assert.Equal(t, []any{0, 1, 2}, acceptAll(t, ctx, c, 3))
	require.Eventually(t, func() bool { return len(col.Messages()) == 30 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "<134>1 - - - - - - b0-0", string(col.Messages()[0]))
	assert.Equal(t, 0, c.Pending())
}

func TestACollectorRestartLosesNothingAndResendsOnlyWhatWasUnaccepted(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: 300 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	require.NoError(t, c.Send(ctx, frames("early", 5), "early"))
	assert.Equal(t, []any{"early"}, acceptAll(t, ctx, c, 1))

	require.NoError(t, c.Send(ctx, frames("late", 5), "late"))
	col.Stop() // before "late" settled: it must be sent again
	col.Start()
	require.NoError(t, c.Send(ctx, frames("after", 5), "after"))
	assert.Equal(t, []any{"late", "after"}, acceptAll(t, ctx, c, 2))

	got := received(col)
	for _, p := range []string{"late", "after"} {
		for i := 0; i < 5; i++ {
			assert.GreaterOrEqual(t, got[fmt.Sprintf("<134>1 - - - - - - %s-%d", p, i)], 1, "%s-%d after the restart", p, i)
		}
	}
	for i := 0; i < 5; i++ {
		assert.Equal(t, 1, got[fmt.Sprintf("<134>1 - - - - - - early-%d", i)], "accepted batches are not resent")
	}
	assert.GreaterOrEqual(t, c.Reconnects.Load(), int64(1))
}

// The reason for Settle: a collector that dies with data acknowledged by
// its TCP but never read resets the connection only afterwards. The batch
// must not count as accepted in between.
func TestDataAcknowledgedButUnreadWhenTheCollectorDiesIsResent(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: 500 * time.Millisecond, MinBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	require.NoError(t, c.Send(ctx, frames("warmup", 1), "warmup"))
	assert.Equal(t, []any{"warmup"}, acceptAll(t, ctx, c, 1))
	col.Pause()
	require.NoError(t, c.Send(ctx, frames("unread", 5), "unread"))
	time.Sleep(100 * time.Millisecond) // acknowledged by TCP, not read
	acc, err := c.Accepted(ctx)
	require.NoError(t, err)
	assert.Empty(t, acc, "acknowledged but not settled")
	col.Stop() // resets: the unread bytes are gone
	require.Zero(t, received(col)["<134>1 - - - - - - unread-0"], "the collector never read the batch")
	col.Start()
	assert.Equal(t, []any{"unread"}, acceptAll(t, ctx, c, 1))
	assert.Equal(t, 1, received(col)["<134>1 - - - - - - unread-4"], "resent on the new connection")
}

func TestAnIdleConnectionThatDiesIsReplacedAndItsBatchesResent(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: time.Second, MinBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.Send(ctx, frames("x", 3), "x"))
	col.Stop()
	col.Start()
	// No further Send: Accepted alone must notice and resend.
	assert.Equal(t, []any{"x"}, acceptAll(t, ctx, c, 1))
	assert.GreaterOrEqual(t, received(col)["<134>1 - - - - - - x-2"], 1)
}

func TestSendBlocksWhileTooMuchIsUnaccepted(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: time.Hour, MaxPending: 100})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.NoError(t, c.Send(ctx, frames("a", 5), 1))
	err = c.Send(ctx, frames("b", 1), 2)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, c.Pending())
}

func TestSendKeepsRetryingAnAbsentCollectorUntilTheContextEnds(t *testing.T) {
	col := syslogtest.NewCollector(t, nil)
	addr := col.Addr
	col.Stop()
	c, err := syslog.NewClient(syslog.Config{Addr: addr, MinBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Send(ctx, frames("a", 1), 1), context.DeadlineExceeded)
}

func TestTLSCollectorsReceiveAndVerifyTheServer(t *testing.T) {
	ca := syslogtest.NewCA(t)
	srv := ca.Issue(t, 2, "127.0.0.1", "collector.test")
	col := syslogtest.NewCollector(t, &tls.Config{Certificates: []tls.Certificate{srv.TLS(t)}, MinVersion: tls.VersionTLS12})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("a client trusting the CA delivers", func(t *testing.T) {
		c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, Settle: 50 * time.Millisecond,
			TLS: &tls.Config{RootCAs: ca.Pool(), ServerName: "collector.test"}})
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Send(ctx, frames("tls", 4), "tls"))
		assert.Equal(t, []any{"tls"}, acceptAll(t, ctx, c, 1))
		require.Eventually(t, func() bool { return received(col)["<134>1 - - - - - - tls-3"] == 1 }, 5*time.Second, 10*time.Millisecond)
	})
	t.Run("a client not trusting it never delivers", func(t *testing.T) {
		c, err := syslog.NewClient(syslog.Config{Addr: col.Addr, MinBackoff: 10 * time.Millisecond,
			TLS: &tls.Config{ServerName: "collector.test"}})
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, c.Send(short, frames("untrusted", 1), 1), context.DeadlineExceeded)
		assert.Zero(t, received(col)["<134>1 - - - - - - untrusted-0"])
	})
}

func TestAClientNeedsAnAddress(t *testing.T) {
	_, err := syslog.NewClient(syslog.Config{})
	assert.Error(t, err)
}
