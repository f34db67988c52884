package pluginserver

import (
	"fmt"
	"testing"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
)

// BenchmarkServeEvent measures one access event over a pooled connection,
// Kong side included, for handlers making 0, 2 and 10 PDK calls. The same
// client and handler run against go-pdk's embedded server in the separate
// module under gopdkbench/, which gives the baseline.
func BenchmarkServeEvent(b *testing.B) {
	for _, calls := range []int{0, 2, 10} {
		b.Run(fmt.Sprintf("pdk_calls=%d", calls), func(b *testing.B) {
			p := Plugin{Name: "bench", Version: "1.0.0", New: func() any { return &pluginservertest.BenchConfig{} }}
			socket, _ := servePlugin(b, p, ServeOptions{Logger: quietLogger()})
			pluginservertest.BenchEvents(b, socket, "bench", calls)
		})
	}
}
