package publish

import (
	"sync/atomic"
	"time"
)

// laneQueue is one lane's part of the memory buffer: a bounded FIFO that
// any number of Enqueue callers fill and the lane's batcher alone empties.
//
// It takes no lock on Enqueue's path. A Go channel would: its lock is
// taken by the sender and by the receiver for every message (by the
// batcher's select, over all of its channels), so a log handler slept on
// it whenever the batcher's thread was preempted by the kernel while
// holding it, for as long as the kernel kept that thread off the CPU
// (measured on a loaded 2-core host: one Enqueue asleep 2.3 ms, and the
// batchers waiting 3.5 ms in all for a lock held by a preempted Enqueue,
// in a 30 000-event run). Here producers claim a slot with a
// compare-and-swap on tail and publish it with the slot's sequence
// number (D. Vyukov's bounded MPMC array queue, with one consumer), and
// the batcher frees it the same way; a full queue is seen without
// waiting.
//
// The batcher sleeps on wake when there is nothing for it to do. An
// Enqueue wakes it only when it has announced that (idle) and the queue
// holds the number of messages it asked for (wakeAt: 1 for a new batch,
// the room left while a partial batch lingers), so that a burst costs one
// wake-up, not one per message. That wake-up is a non-blocking send on a
// one-slot channel, whose lock the batcher holds only while it goes to
// sleep on it.
type laneQueue struct {
	slots []laneSlot
	_     [64]byte
	tail  atomic.Uint64 // next position to claim (producers)
	_     [56]byte
	head  atomic.Uint64 // next position to take (the batcher; read by depth)
	_     [56]byte
	// idle is set by the batcher before it sleeps on wake and cleared by
	// the producer that wakes it (or by the batcher when it wakes).
	idle   atomic.Bool
	wakeAt atomic.Int64
	wake   chan struct{}
}

type laneSlot struct {
	// seq is the position the slot is free for (seq == pos) or holds the
	// message of (seq == pos+1).
	seq atomic.Uint64
	m   Message
}

// newLaneQueue holds up to n messages (at least 2, which the sequence
// scheme needs).
func newLaneQueue(n int) *laneQueue {
	n = max(n, 2)
	q := &laneQueue{slots: make([]laneSlot, n), wake: make(chan struct{}, 1)}
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q
}

// push appends *m, or returns false at once when the queue is full. It
// never waits for the batcher.
func (q *laneQueue) push(m *Message) bool {
	n := uint64(len(q.slots))
	pos := q.tail.Load()
	for {
		s := &q.slots[pos%n]
		switch d := int64(s.seq.Load() - pos); {
		case d == 0:
			if q.tail.CompareAndSwap(pos, pos+1) {
				s.m = *m
				s.seq.Store(pos + 1)
				q.signal()
				return true
			}
			pos = q.tail.Load()
		case d < 0:
			// The slot still holds the message of the previous lap.
			return false
		default:
			// Another producer claimed pos first.
			pos = q.tail.Load()
		}
	}
}

// signal wakes the batcher if it sleeps waiting for as many messages as
// the queue now holds.
func (q *laneQueue) signal() {
	if !q.idle.Load() || int64(q.depth()) < q.wakeAt.Load() {
		return
	}
	if q.idle.CompareAndSwap(true, false) {
		select {
		case q.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// pop takes the oldest message. ok is false when the queue is empty or
// its oldest slot is claimed by a producer that has not written it yet.
// Only the lane's batcher calls it.
func (q *laneQueue) pop() (m Message, ok bool) {
	pos := q.head.Load()
	s := &q.slots[pos%uint64(len(q.slots))]
	if s.seq.Load() != pos+1 {
		return Message{}, false
	}
	m = s.m
	s.m = Message{} // let the collector have the event
	s.seq.Store(pos + uint64(len(q.slots)))
	q.head.Store(pos + 1)
	return m, true
}

// depth is how many messages are claimed and not yet taken.
func (q *laneQueue) depth() int {
	h := q.head.Load() // before tail, so that tail >= h
	return int(q.tail.Load() - h)
}

// waitResult says why laneQueue.wait returned.
type waitResult int

const (
	woken   waitResult = iota // messages may be there
	expired                   // timer fired
	stopped                   // stop was closed
)

// wait sleeps until the queue holds n messages (or is half full, so that
// producers are not refused while a batch larger than the queue lingers),
// timer fires (nil: never) or stop is closed. Only the lane's batcher
// calls it.
func (q *laneQueue) wait(n int, timer <-chan time.Time, stop <-chan struct{}) waitResult {
	n = max(1, min(n, len(q.slots)/2))
	q.wakeAt.Store(int64(n))
	q.idle.Store(true)
	// A producer that pushed before idle was set did not wake us.
	if q.depth() >= n {
		q.idle.Store(false)
		if !q.ready() {
			// The oldest slot is claimed but not written yet: its
			// producer is between two instructions; let it finish.
			t := time.NewTimer(20 * time.Microsecond)
			defer t.Stop()
			select {
			case <-t.C:
			case <-stop:
				return stopped
			}
		}
		return woken
	}
	select {
	case <-q.wake:
		return woken
	case <-timer:
		q.idle.Store(false)
		return expired
	case <-stop:
		q.idle.Store(false)
		return stopped
	}
}

// ready reports whether pop would return a message.
func (q *laneQueue) ready() bool {
	pos := q.head.Load()
	return q.slots[pos%uint64(len(q.slots))].seq.Load() == pos+1
}
