package publish

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTheLaneQueueRefusesWhenFullAndTakesInOrder(t *testing.T) {
	q := newLaneQueue(5)
	for i := range 5 {
		m := Message{ID: strconv.Itoa(i)}
		require.True(t, q.push(&m), "message %d fits", i)
	}
	extra := Message{ID: "extra"}
	assert.False(t, q.push(&extra), "a full queue refuses at once")
	assert.Equal(t, 5, q.depth())
	for lap := range 3 { // around the ring, past the first lap
		m, ok := q.pop()
		require.True(t, ok)
		assert.Equal(t, strconv.Itoa(lap), m.ID)
		next := Message{ID: strconv.Itoa(5 + lap)}
		require.True(t, q.push(&next), "a freed slot takes a message again")
		assert.False(t, q.push(&extra))
	}
	for i := 3; i < 8; i++ {
		m, ok := q.pop()
		require.True(t, ok)
		assert.Equal(t, strconv.Itoa(i), m.ID)
	}
	_, ok := q.pop()
	assert.False(t, ok, "empty")
	assert.Zero(t, q.depth())
}

// Producers push as fast as they can into a small queue (so that it is
// often full and often empty) while one consumer takes, sleeping through
// wait as the batcher does: every message arrives once, in each
// producer's order, and no wake-up is lost (a lost one hangs the
// consumer, which the deadline catches).
func TestTheLaneQueueLosesNoMessageAndNoWakeUp(t *testing.T) {
	const producers, each = 4, 20000
	q := newLaneQueue(64)
	stop := make(chan struct{})
	got := make(chan [producers]int, 1)
	go func() {
		var next [producers]int
		total := 0
		timer := time.NewTimer(time.Hour)
		for total < producers*each {
			m, ok := q.pop()
			if !ok {
				// Alternate a plain wait for the first message, which
				// only a producer ends, and a lingering wait for
				// several, as the batcher does.
				var linger <-chan time.Time
				want := 1 + total%4
				if want > 1 {
					timer.Reset(time.Millisecond)
					linger = timer.C
				}
				if q.wait(want, linger, stop) == stopped {
					break
				}
				continue
			}
			var p, i int
			if _, err := fmt.Sscanf(m.ID, "%d/%d", &p, &i); err != nil || i != next[p] {
				t.Errorf("got %q, want %d/%d", m.ID, p, next[p])
				break
			}
			next[p]++
			total++
		}
		got <- next
	}()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				m := Message{ID: fmt.Sprintf("%d/%d", p, i)}
				if q.push(&m) {
					i++
				} else {
					runtime.Gosched() // full: let the consumer run
				}
			}
		}()
	}
	wg.Wait()
	select {
	case next := <-got:
		for p := range producers {
			assert.Equal(t, each, next[p], "producer %d", p)
		}
	case <-time.After(30 * time.Second):
		close(stop)
		t.Fatalf("the consumer is stuck with %d messages queued: a wake-up was lost", q.depth())
	}
}

func TestMessagesEnqueuedWhileABatchLingersGoWithIt(t *testing.T) {
	c := startCluster(t)
	produces := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Observe: true, Count: -1})
	cfg := testConfig(c.ListenAddrs())
	cfg.Linger = 300 * time.Millisecond
	p := newPublisher(t, cfg)
	first, second := event(1, 10), event(2, 10)
	second.Key = first.Key // same lane, same partition
	require.True(t, p.Enqueue(first))
	time.Sleep(50 * time.Millisecond)
	require.True(t, p.Enqueue(second))
	require.Eventually(t, func() bool { return p.Stats().Published == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1, produces.Hits(), "one produce request carried both")
	require.NoError(t, p.Close(context.Background()))
}

// One message at a time, each pushed just as the consumer finds the queue
// empty and goes to sleep: the window where a wake-up can be lost.
func TestTheLaneQueueWakesTheConsumerForEachLoneMessage(t *testing.T) {
	const rounds = 20000
	q := newLaneQueue(4)
	stop := make(chan struct{})
	defer close(stop)
	ack := make(chan int)
	go func() {
		for {
			m, ok := q.pop()
			if !ok {
				if q.wait(1, nil, stop) == stopped {
					return
				}
				continue
			}
			i, _ := strconv.Atoi(m.ID)
			ack <- i
		}
	}()
	timeout := time.NewTimer(time.Hour)
	for i := range rounds {
		m := Message{ID: strconv.Itoa(i)}
		require.True(t, q.push(&m))
		timeout.Reset(10 * time.Second)
		select {
		case got := <-ack:
			require.Equal(t, i, got)
		case <-timeout.C:
			t.Fatalf("round %d: the consumer sleeps with a message queued: a wake-up was lost", i)
		}
	}
}
