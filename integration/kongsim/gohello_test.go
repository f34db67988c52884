package kongsim

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// §9: the checks Kong's own spec makes on its Go fixture, against our
// equivalent built with go-pdk's embedded server.
func TestGoHelloPassesKongsExternalPluginSpecs(t *testing.T) {
	t.Run("§9 01-process-management: the dump carries name, priority, version, phases and protocol", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		info, err := queryPlugin(ctx, serverConf{name: "test", queryCmd: filepath.Join(pluginBin, "go-hello") + " -dump"})
		require.NoError(t, err)
		assert.Equal(t, "go-hello", info.Name)
		assert.Equal(t, 1, info.Priority)
		assert.Equal(t, "0.1", info.Version)
		assert.Equal(t, []string{"access", "response", "log"}, info.Phases)
	})

	e := startEnv(t, envOptions{servers: []string{"go-hello"}, yml: `
_format_version: "3.0"
services:
  - name: mock
    url: UPSTREAM
    routes:
      - name: all
        paths: ["/"]
plugins:
  - name: go-hello
    config: { message: "Kong!" }
`})
	resp := e.get(t, "/hello", map[string]string{"X-Loose-Data": "this"})
	e.idle(t)

	t.Run("§9 01-process-management: kong logs the server's start", func(t *testing.T) {
		assert.Regexp(t, `\[pluginserver\] started, pid \d+`, e.log.String())
	})
	t.Run("§9 02-execution: the access handler's response header reaches the client", func(t *testing.T) {
		require.Equal(t, 200, resp.status)
		assert.Regexp(t, `^Go says Kong! to 127\.0\.0\.1:\d+$`, resp.header.Get("x-hello-from-go"))
	})
	t.Run("§9 99-reports: the response handler sees the upstream's Server header", func(t *testing.T) {
		assert.Equal(t, "got from server 'mock-upstream/1.0.0'", resp.header.Get("x-hello-from-go-at-response"))
	})
	t.Run("§9 99-reports: the log phase really sees saved data", func(t *testing.T) {
		log := e.log.String()
		assert.Regexp(t, `access_start: [1-9]\d{9,}`, log)
		assert.Contains(t, log, "shared_msg: Kong!")
		assert.Contains(t, log, "request_header: this")
		assert.Contains(t, log, "response_header: mock_upstream")
		assert.Regexp(t, regexp.MustCompile(`serialized:\{.*"request":`), log)
	})
	t.Run("§9 99-reports: one request counts one event per phase", func(t *testing.T) {
		st := e.gw.Stats()
		require.Len(t, st.Requests, 1)
		r := st.Requests[0]
		assert.Equal(t, resp.header.Get("X-Kong-Request-Id"), r.ID)
		for _, phase := range []string{"access", "response", "log"} {
			assert.Equal(t, 1, r.Phase("go-hello", phase).Events, phase)
		}
		assert.Equal(t, 1, r.Phase("go-hello", "log").Methods["kong.log.serialize"])
	})
}
