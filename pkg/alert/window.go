package alert

// keyState is one group key's window for one rule: a ring of per-bucket
// counts covering the window, plus its place in the rule's
// least-recently-seen list. Memory is O(buckets) per key, independent of the
// event rate; distinct thresholds add at most threshold+1 values.
type keyState struct {
	key        string
	prev, next *keyState // LRU list, most recently seen first

	head   int64    // bucket index of the newest bucket in the ring
	counts []uint32 // matching events per bucket
	totals []uint32 // ratio rules: events matching `of` per bucket
	// distinct: value → newest bucket it was seen in; bounded (see add).
	distinct map[string]int64

	lastSeen int64 // newest event time, unix ns
	source   int32 // ObserveFrom tag of the last event
	// holdUntil keeps a restored alert firing while its window refills.
	holdUntil int64

	state        keyPhase
	pendingSince int64
	belowSince   int64
	alert        *Alert
}

type keyPhase uint8

const (
	phaseInactive keyPhase = iota
	phasePending
	phaseFiring
)

func newKeyState(key string, r *Rule) *keyState {
	k := &keyState{key: key, head: -1 << 62, source: -1}
	// counts and totals share one allocation.
	n := r.buckets
	if r.Threshold.Kind == ThresholdRatio {
		buf := make([]uint32, 2*n)
		k.counts, k.totals = buf[:n:n], buf[n:]
	} else {
		k.counts = make([]uint32, n)
	}
	if r.Threshold.Kind == ThresholdDistinct {
		k.distinct = make(map[string]int64, 4)
	}
	return k
}

// slot moves the ring forward to bucket b, clearing buckets that left the
// window, and returns b's index in the ring, or -1 when b is already older
// than the ring covers.
func (k *keyState) slot(b int64) int {
	n := int64(len(k.counts))
	if b > k.head {
		gap := b - k.head
		if gap >= n {
			clear(k.counts)
			clear(k.totals)
		} else {
			for i := k.head + 1; i <= b; i++ {
				j := i % n
				k.counts[j] = 0
				if k.totals != nil {
					k.totals[j] = 0
				}
			}
		}
		k.head = b
	}
	if b <= k.head-n {
		return -1
	}
	return int(b % n)
}

// sum adds the buckets in (now-n, now] of ring.
func (k *keyState) sum(ring []uint32, now int64) uint64 {
	n := int64(len(ring))
	var s uint64
	for i := int64(0); i < n; i++ {
		b := k.head - i
		if b <= now-n {
			break
		}
		if b <= now {
			s += uint64(ring[b%n])
		}
	}
	return s
}

// addDistinct records value seen in bucket b, keeping at most limit values:
// once limit values are inside the window the threshold is met whatever else
// arrives, so older values can be forgotten without changing the decision.
func (k *keyState) addDistinct(value string, b int64, limit int) {
	if old, ok := k.distinct[value]; ok {
		if b > old {
			k.distinct[value] = b
		}
		return
	}
	if len(k.distinct) >= limit {
		n := int64(len(k.counts))
		var oldestV string
		oldestB := int64(1<<63 - 1)
		for v, vb := range k.distinct {
			if vb <= k.head-n {
				delete(k.distinct, v)
				continue
			}
			if vb < oldestB {
				oldestV, oldestB = v, vb
			}
		}
		if len(k.distinct) >= limit {
			if oldestB >= b {
				return // every kept value is at least as recent
			}
			delete(k.distinct, oldestV)
		}
	}
	k.distinct[value] = b
}

func (k *keyState) countDistinct(now int64) uint64 {
	n := int64(len(k.counts))
	var c uint64
	for _, vb := range k.distinct {
		if vb > now-n && vb <= now {
			c++
		}
	}
	return c
}

// lru is a rule's keys, most recently seen first.
type lru struct{ front, back *keyState }

func (l *lru) pushFront(k *keyState) {
	k.prev, k.next = nil, l.front
	if l.front != nil {
		l.front.prev = k
	}
	l.front = k
	if l.back == nil {
		l.back = k
	}
}

func (l *lru) remove(k *keyState) {
	if k.prev != nil {
		k.prev.next = k.next
	} else {
		l.front = k.next
	}
	if k.next != nil {
		k.next.prev = k.prev
	} else {
		l.back = k.prev
	}
	k.prev, k.next = nil, nil
}

func (l *lru) touch(k *keyState) {
	if l.front == k {
		return
	}
	l.remove(k)
	l.pushFront(k)
}
