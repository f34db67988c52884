package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a Notifier that fails its first `fail` attempts, or blocks until
// released.
type fake struct {
	fail      int32
	permanent bool
	block     chan struct{}
	calls     atomic.Int32
	mu        sync.Mutex
	got       []string
}

func (f *fake) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	n := f.calls.Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
	if n <= f.fail {
		return !f.permanent, errors.New("receiver unavailable")
	}
	f.mu.Lock()
	for _, a := range alerts {
		f.got = append(f.got, a.ID+":"+string(a.Status))
	}
	f.mu.Unlock()
	return false, nil
}

func (f *fake) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

var quick = Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxElapsed: time.Second, Attempt: time.Second}

func a(id string, s alert.Status) alert.Alert { return alert.Alert{ID: id, Status: s} }

func TestAFailingReceiverIsRetriedUntilItAccepts(t *testing.T) {
	f := &fake{fail: 3}
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "flaky", Notifier: f, Backoff: quick})
	defer p.Close(context.Background())
	tk, err := p.Enqueue(map[string][]alert.Alert{"flaky": {a("x", alert.Firing)}})
	require.NoError(t, err)
	select {
	case <-tk.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("ticket never completed")
	}
	assert.Equal(t, 0, tk.Failed())
	assert.Equal(t, int32(4), f.calls.Load())
	assert.Equal(t, Stats{Sent: 1, Retries: 3}, p.Stats("flaky"))
	assert.Equal(t, []string{"x:firing"}, f.delivered())
}

func TestAPermanentErrorIsNotRetried(t *testing.T) {
	f := &fake{fail: 100, permanent: true}
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "bad", Notifier: f, Backoff: quick})
	defer p.Close(context.Background())
	tk, err := p.Enqueue(map[string][]alert.Alert{"bad": {a("x", alert.Firing)}})
	require.NoError(t, err)
	<-tk.Done()
	assert.Equal(t, 1, tk.Failed())
	assert.Equal(t, int32(1), f.calls.Load())
	assert.Equal(t, Stats{Failed: 1}, p.Stats("bad"))
}

func TestRetriesStopAfterMaxElapsed(t *testing.T) {
	f := &fake{fail: 1 << 30}
	b := quick
	b.MaxElapsed = 50 * time.Millisecond
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "down", Notifier: f, Backoff: b})
	defer p.Close(context.Background())
	start := time.Now()
	tk, err := p.Enqueue(map[string][]alert.Alert{"down": {a("x", alert.Firing)}})
	require.NoError(t, err)
	<-tk.Done()
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, tk.Failed())
	assert.Greater(t, f.calls.Load(), int32(2))
}

func TestAStuckReceiverDoesNotStallTheOthers(t *testing.T) {
	stuck := &fake{block: make(chan struct{})}
	healthy := &fake{}
	p := New(slog.New(slog.DiscardHandler),
		Receiver{Name: "stuck", Notifier: stuck, Backoff: quick},
		Receiver{Name: "healthy", Notifier: healthy, Backoff: quick})
	var tickets []*Ticket
	for _, id := range []string{"a", "b", "c"} {
		tk, err := p.Enqueue(map[string][]alert.Alert{"stuck": {a(id, alert.Firing)}, "healthy": {a(id, alert.Firing)}})
		require.NoError(t, err)
		tickets = append(tickets, tk)
	}
	require.Eventually(t, func() bool { return len(healthy.delivered()) == 3 }, 5*time.Second, time.Millisecond,
		"the healthy receiver gets every batch while the other is stuck")
	assert.Equal(t, []string{"a:firing", "b:firing", "c:firing"}, healthy.delivered())
	select {
	case <-tickets[0].Done():
		t.Fatal("a ticket completed while one of its receivers had not delivered")
	default:
	}
	close(stuck.block)
	for _, tk := range tickets {
		<-tk.Done()
	}
	assert.Equal(t, []string{"a:firing", "b:firing", "c:firing"}, stuck.delivered(), "order is kept per receiver")
	p.Close(context.Background())
}

func TestAResolutionNeverOvertakesItsFiringOnARetryingReceiver(t *testing.T) {
	f := &fake{fail: 2}
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "r", Notifier: f, Backoff: quick})
	t1, _ := p.Enqueue(map[string][]alert.Alert{"r": {a("x", alert.Firing)}})
	t2, _ := p.Enqueue(map[string][]alert.Alert{"r": {a("x", alert.Resolved)}})
	<-t1.Done()
	<-t2.Done()
	assert.Equal(t, []string{"x:firing", "x:resolved"}, f.delivered())
	p.Close(context.Background())
}

func TestEnqueueRejectsAnUnknownReceiverAndCompletesEmptyBatches(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "r", Notifier: &fake{}, Backoff: quick})
	defer p.Close(context.Background())
	_, err := p.Enqueue(map[string][]alert.Alert{"nope": {a("x", alert.Firing)}})
	assert.ErrorIs(t, err, ErrUnknownReceiver)
	tk, err := p.Enqueue(nil)
	require.NoError(t, err)
	select {
	case <-tk.Done():
	default:
		t.Fatal("an empty batch is complete at once")
	}
}

func TestASecretNeverPrints(t *testing.T) {
	t.Setenv("GATEWATCH_TEST_SECRET", "s3cr3t-value")
	s, err := SecretRef{Env: "GATEWATCH_TEST_SECRET"}.Resolve("x")
	require.NoError(t, err)
	assert.Equal(t, "s3cr3t-value", s.Value())
	for _, format := range []string{"%v", "%s", "%+v", "%#v", "%q"} {
		assert.NotContains(t, sprintf(format, s), "s3cr3t")
		assert.NotContains(t, sprintf(format, struct{ S Secret }{s}), "s3cr3t")
	}
	_, err = SecretRef{Env: "GATEWATCH_TEST_SECRET_UNSET"}.Resolve("pagerduty: routing_key")
	assert.ErrorIs(t, err, ErrNoSecret)
	assert.Contains(t, err.Error(), "GATEWATCH_TEST_SECRET_UNSET")
}

func TestCloseAbortsWhatIsUndeliveredAndSaysSo(t *testing.T) {
	f := &fake{fail: 1 << 30}
	b := quick
	b.MaxElapsed = time.Hour
	p := New(slog.New(slog.DiscardHandler), Receiver{Name: "down", Notifier: f, Backoff: b})
	t1, _ := p.Enqueue(map[string][]alert.Alert{"down": {a("x", alert.Firing)}})
	t2, _ := p.Enqueue(map[string][]alert.Alert{"down": {a("y", alert.Firing)}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Close(ctx)
	for _, tk := range []*Ticket{t1, t2} {
		<-tk.Done()
		assert.True(t, tk.Aborted())
		assert.Equal(t, 1, tk.Failed())
	}
	ok := New(slog.New(slog.DiscardHandler), Receiver{Name: "up", Notifier: &fake{}, Backoff: quick})
	t3, _ := ok.Enqueue(map[string][]alert.Alert{"up": {a("z", alert.Firing)}})
	<-t3.Done()
	assert.False(t, t3.Aborted())
	ok.Close(context.Background())
}
