package errlog

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
)

func mustParse(t testing.TB, s string) Line {
	t.Helper()
	l, err := Parse(s, time.UTC)
	require.NoError(t, err)
	return l
}

func TestCollapser(t *testing.T) {
	refused := func(sec, conn int, client string) string {
		return "2026/11/25 21:47:" + fmt.Sprintf("%02d", sec) + " [error] 6089#6089: *" + strconv.Itoa(conn) +
			" connect() failed (111: Connection refused) while connecting to upstream, client: " + client +
			`, server: gw.test, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "h"`
	}
	t.Run("a burst of like lines from many clients becomes one group with a count", func(t *testing.T) {
		var c Collapser
		for i := range 50 {
			require.True(t, c.Add(mustParse(t, refused(i%60, i+1, "10.0.0."+strconv.Itoa(i)))))
		}
		gs := c.Flush()
		require.Len(t, gs, 1)
		assert.Equal(t, 50, gs[0].Count)
		assert.Equal(t, UpstreamConnect, gs[0].Category)
		assert.Equal(t, "10.0.0.0", gs[0].First.Client, "the first line stands for the burst")
		assert.Zero(t, c.Pending(), "flush starts afresh")
	})
	t.Run("different categories stay apart and come out in time order", func(t *testing.T) {
		var c Collapser
		c.Add(mustParse(t, refused(5, 1, "10.0.0.1")))
		c.Add(mustParse(t, "2026/11/25 21:47:01 [alert] 1#1: worker process 6090 exited on signal 11"))
		gs := c.Flush()
		require.Len(t, gs, 2)
		assert.Equal(t, WorkerCrash, gs[0].Category)
		assert.Equal(t, UpstreamConnect, gs[1].Category)
	})
	t.Run("lines below the minimum level and of no category are not kept", func(t *testing.T) {
		c := Collapser{MinLevel: "error"}
		assert.False(t, c.Add(mustParse(t, "2026/11/25 21:47:01 [warn] 1#1: something odd")))
		assert.True(t, c.Add(mustParse(t, "2026/11/25 21:47:01 [notice] 1#0: [kong] process.lua:232 external pluginserver 'gatewatch' terminated: exit 2")))
		assert.Equal(t, 1, c.Pending())
	})
	t.Run("distinct groups beyond the bound are counted in one overflow group", func(t *testing.T) {
		c := Collapser{MaxGroups: 3}
		for i := range 10 {
			c.Add(mustParse(t, "2026/11/25 21:47:01 [error] 1#1: distinct error "+strings.Repeat("x", i)))
		}
		gs := c.Flush()
		require.Len(t, gs, 4)
		assert.Equal(t, 7, gs[3].Count)
	})
	t.Run("a traceback after a line that was not kept is not attached elsewhere", func(t *testing.T) {
		var c Collapser
		c.Add(mustParse(t, "2026/11/25 21:47:01 [error] 1#0: *5 lua entry thread aborted: runtime error: x"))
		c.Add(mustParse(t, "2026/11/25 21:47:02 [info] 1#0: *6 client closed connection"))
		c.Continue("stack traceback:")
		gs := c.Flush()
		require.Len(t, gs, 1)
		assert.Equal(t, "lua entry thread aborted: runtime error: x", gs[0].First.Message)
	})
	t.Run("a traceback continues the message of the entry before it", func(t *testing.T) {
		var c Collapser
		c.Add(mustParse(t, "2026/11/25 21:47:01 [error] 1#0: *5 lua entry thread aborted: runtime error: x"))
		c.Continue("stack traceback:")
		gs := c.Flush()
		require.Len(t, gs, 1)
		assert.Equal(t, "lua entry thread aborted: runtime error: x\nstack traceback:", gs[0].First.Message)
	})
}

func TestGroupEvent(t *testing.T) {
	l := mustParse(t, `2026/11/25 21:51:09 [error] 1201#0: *40 [kong] pb_rpc.lua:404 [gatewatch] pluginserver error: connection refused, client: 192.0.2.10, server: kong, request: "GET /orders?apikey=s3cret HTTP/1.1", host: "api.example.com"`)
	g := Group{First: l, Category: Classify(&l), Count: 3}
	e := g.Event("id-1", "node-1")
	assert.Equal(t, event.KongError, e.Type)
	assert.Equal(t, event.High, e.Severity)
	assert.Equal(t, event.Detail{Level: "error", Category: PluginError, Component: "gatewatch", Message: "pluginserver error: connection refused", Count: 3}, e.Detail)
	assert.Equal(t, "192.0.2.10", e.Client.IP)
	assert.Equal(t, event.Request{Method: "GET", Host: "api.example.com", Path: "/orders", Query: "[redacted]"}, e.Request)
	assert.NotContains(t, string(e.AppendJSON(nil)), "s3cret", "a query's secrets never leave")
}

func TestCleanBoundsAndEscapes(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"control characters are escaped", "a\x1b[31mb", `a\x1b[31mb`},
		{"newlines and tabs stay", "a\n\tb", "a\n\tb"},
		{"a long message is cut to the bound on a rune boundary", strings.Repeat("é", 600), strings.Repeat("é", 512)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clean(tt.in)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), MaxMessage)
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		name, level, cat string
		want             event.Severity
	}{
		{"emerg is critical", "emerg", Critical, event.Critical},
		{"error is high", "error", UpstreamConnect, event.High},
		{"warn is medium", "warn", Other, event.Medium},
		{"a worker crash is critical whatever its level", "notice", WorkerCrash, event.Critical},
		{"a plugin server's termination is at least high", "notice", PluginServerTerminated, event.High},
		{"a plugin server's panic output is at least medium", "info", PluginError, event.Medium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, Severity(tt.level, tt.cat)) })
	}
}

func BenchmarkCollapserAdd(b *testing.B) {
	l := mustParse(b, `2026/11/25 21:47:41 [error] 6089#6089: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: gw.test, request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "127.0.0.1:18080"`)
	var c Collapser
	b.ReportAllocs()
	for b.Loop() {
		c.Add(l)
	}
}
