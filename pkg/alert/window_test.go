package alert

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naiveRule mirrors bruteRule's window: 10s window, 1s buckets, 5s
// lateness. The property below holds for any lateness < window − resolution,
// where an accepted event always falls inside its key's ring.
const (
	naiveWindow   = 10 * time.Second
	naiveRes      = time.Second
	naiveLateness = 5 * time.Second
)

// checkAgainstNaive feeds arrivals (offset from t0 in ms, key index) to the
// engine and to a direct computation over the accepted events, and compares
// every key's window value at the final watermark.
func checkAgainstNaive(t *testing.T, arrivals [][2]int) {
	e := NewEngine(mustParse(t, bruteRule))
	type acc struct {
		t   time.Time
		key string
	}
	var accepted []acc
	var wm time.Time
	for _, a := range arrivals {
		at := t0.Add(time.Duration(a[0]) * time.Millisecond)
		key := fmt.Sprintf("192.0.2.%d", a[1])
		e.Observe(authFailure(key, at), nil)
		if !wm.IsZero() && at.Before(wm.Add(-naiveLateness)) {
			continue // late: the engine must drop it too
		}
		if at.After(wm) {
			wm = at
		}
		accepted = append(accepted, acc{at, key})
	}
	want := map[string]float64{}
	nb := wm.UnixNano() / int64(naiveRes)
	n := int64(naiveWindow / naiveRes)
	for _, a := range accepted {
		want[a.key] += 0 // a tracked key with an empty window reads 0
		if b := a.t.UnixNano() / int64(naiveRes); b > nb-n && b <= nb {
			want[a.key]++
		}
	}
	if len(accepted) > 0 {
		require.Equal(t, wm, e.Watermark())
	}
	assert.Equal(t, want, e.Values("brute"))
	assert.Equal(t, uint64(len(arrivals)-len(accepted)), e.Late())
}

func TestSlidingWindowsEqualADirectCountOverRandomArrivals(t *testing.T) {
	for seed := range 300 {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		var arrivals [][2]int
		clock := 0
		for range 1 + r.IntN(200) {
			clock += r.IntN(400)                                                 // time moves on, 0–400 ms per event
			arrivals = append(arrivals, [2]int{clock - r.IntN(7000), r.IntN(5)}) // up to 7s out of order
		}
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { checkAgainstNaive(t, arrivals) })
	}
}

func FuzzSlidingWindow(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 2, 255, 255, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		var arrivals [][2]int
		for len(data) >= 3 {
			arrivals = append(arrivals, [2]int{int(binary.BigEndian.Uint16(data)) * 2, int(data[2] % 4)})
			data = data[3:]
		}
		checkAgainstNaive(t, arrivals)
	})
}
