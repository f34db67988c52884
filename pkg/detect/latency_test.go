package detect

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLatencyBenign reports per-request median and p99 over the benign
// corpus and holds them to a generous ceiling (shared CI machines are noisy;
// the benchmark gives the real figure).
func TestLatencyBenign(t *testing.T) {
	e, err := New(nil)
	require.NoError(t, err)
	p, err := e.Profile(Policy{})
	require.NoError(t, err)
	reqs := loadRequests(t, "benign_synthetic.jsonl")
	var dst []Finding
	for i := range reqs { // warm up the pool and caches
		dst = p.Inspect(&reqs[i], dst[:0])
	}
	d := make([]time.Duration, len(reqs))
	for i := range reqs {
		start := time.Now()
		dst = p.Inspect(&reqs[i], dst[:0])
		d[i] = time.Since(start)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	med, p99 := d[len(d)/2], d[len(d)*99/100]
	t.Logf("states=%d benign per-request median %v p99 %v", len(e.matcher.hit), med, p99)
	require.Less(t, med, raceSlowdown*200*time.Microsecond)
}
