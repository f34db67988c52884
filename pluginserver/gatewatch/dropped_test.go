package main

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/publish"
)

// While the spool is full, reports are lost like any event; the settled
// report that follows still states the whole loss.
func TestTheNewestDropReportStatesTheWholeLoss(t *testing.T) {
	var mu sync.Mutex
	full := true
	var delivered []event.Event
	d := newDropReporter(func(m publish.Message) bool {
		mu.Lock()
		defer mu.Unlock()
		if full {
			return false // lost to the same full spool
		}
		var ev event.Event
		require.NoError(t, json.Unmarshal(m.Value, &ev))
		delivered = append(delivered, ev)
		return true
	}, event.NewIDGen(), "gatewatch.events")
	d.settle = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.run(ctx)

	d.onDrop(700, "spool_full")
	d.onDrop(62, "spool_full")
	mu.Lock()
	full = false // the broker is back, the spool drains
	mu.Unlock()
	d.onDrop(5, "spool_full") // one more report, delivered
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) >= 2
	}, 5*time.Second, 20*time.Millisecond, "a settled report follows the last drop")

	mu.Lock()
	defer mu.Unlock()
	last := delivered[len(delivered)-1]
	assert.Equal(t, event.Dropped, last.Type)
	assert.Equal(t, int64(767), last.Detail.DroppedTotal, "the newest report counts every drop")
	assert.Equal(t, int64(767), delivered[0].Detail.DroppedTotal)
	assert.Equal(t, 5, delivered[0].Detail.Dropped, "dropped is what is new since the previous report")
	assert.Equal(t, "spool_full", last.Detail.Reason)
}
