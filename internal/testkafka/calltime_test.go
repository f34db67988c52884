package testkafka

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what AssertNeverWaited reports.
type recorder struct {
	testing.TB
	errors, logs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func timeCalls(t *testing.T, limit time.Duration, calls ...func()) *recorder {
	t.Helper()
	ct, err := NewCallTimer(limit, len(calls))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range calls {
		ct.Time(f)
	}
	if err := ct.Stop(); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	ct.AssertNeverWaited(r, "call")
	return r
}

func TestCallTimerPassesQuickCalls(t *testing.T) {
	sum := 0
	calls := make([]func(), 1000)
	for i := range calls {
		calls[i] = func() { sum += i }
	}
	r := timeCalls(t, 10*time.Millisecond, calls...)
	if len(r.errors) > 0 {
		t.Errorf("quick calls failed: %q", r.errors)
	}
}

func TestCallTimerFailsACallThatWaitsForALock(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	go func() {
		time.Sleep(20 * time.Millisecond)
		mu.Unlock()
	}()
	r := timeCalls(t, 5*time.Millisecond, func() {
		mu.Lock()
		defer mu.Unlock()
	})
	all := strings.Join(r.errors, "\n")
	if !strings.Contains(all, "(block profile)") || !strings.Contains(all, "sync.(*Mutex).Lock") {
		t.Errorf("the lock wait is not reported from the block profile: %q", r.errors)
	}
}

func TestCallTimerFailsACallThatSleeps(t *testing.T) {
	r := timeCalls(t, 5*time.Millisecond, func() { time.Sleep(20 * time.Millisecond) })
	if !strings.Contains(strings.Join(r.errors, "\n"), "was answerable for") {
		t.Errorf("a call that slept 20ms passed: errors %q, logs %q", r.errors, r.logs)
	}
}

func TestCallTimerFailsACallThatComputesTooLong(t *testing.T) {
	r := timeCalls(t, 2*time.Millisecond, func() {
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
	})
	if !strings.Contains(strings.Join(r.errors, "\n"), "of thread CPU time") {
		t.Errorf("a call that computed 20ms passed: errors %q, logs %q", r.errors, r.logs)
	}
}
