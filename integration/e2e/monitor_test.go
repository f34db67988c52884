package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/integration/kongsim"
)

// The monitor makes exactly one PDK call, kong.log.serialize, for a benign
// request; on Kong versions whose entry lacks the response source it asks
// kong.response.get_source for error responses only (kong-reference §3.3).
func TestMonitorPDKCallsPerRequest(t *testing.T) {
	for _, version := range []string{"3.4", "3.9"} {
		t.Run("kong "+version, func(t *testing.T) {
			s := startStack(t, stackOptions{kongVersion: version})
			type sent struct {
				path, key string
				status    int
				calls     map[string]int
			}
			cases := []sent{
				{"/public/a", "", 200, map[string]int{"kong.log.serialize": 1}},
				{"/orders/1", "alice-demo-key", 200, map[string]int{"kong.log.serialize": 1}},
			}
			errCalls := map[string]int{"kong.log.serialize": 1}
			if version < "3.9" {
				errCalls["kong.response.get_source"] = 1
			}
			cases = append(cases, sent{"/orders/1", "wrong", 401, errCalls})

			var ids []string
			for _, c := range cases {
				resp := s.get(t, c.path, map[string]string{"apikey": c.key})
				require.Equal(t, c.status, resp.StatusCode)
				ids = append(ids, resp.Header.Get("X-Kong-Request-Id"))
			}
			require.NoError(t, s.gw.WaitIdle(context.Background()))
			stats := s.gw.Stats()
			recs := stats.Requests
			require.GreaterOrEqual(t, len(recs), len(cases))
			recs = recs[len(recs)-len(cases):]
			for i, c := range cases {
				if ids[i] != "" {
					r, ok := stats.Request(ids[i])
					require.True(t, ok, "kongsim recorded request %s", ids[i])
					recs[i] = r
				}
				got := recs[i].Phase("gatewatch", "log")
				assert.Equal(t, 1, got.Events, "%s: one log event", c.path)
				// The node id is asked once per process, with the first event.
				delete(got.Methods, "kong.node.get_id")
				assert.Equal(t, c.calls, got.Methods, "%s: PDK calls in the log phase", c.path)
			}
		})
	}
}

// Kong validates plugin config against the schema the binary dumps; so does
// kongsim, with Kong-style messages naming the field.
func TestBadPluginConfigIsRejectedWithTheFieldName(t *testing.T) {
	cases := []struct {
		name   string
		config string
		want   string
	}{
		{"a wrong type", "latency_threshold_ms: fast", "latency_threshold_ms"},
		{"an unknown field", "latency_treshold_ms: 10", "latency_treshold_ms"},
		{"a value out of range", "paranoia: 9", "paranoia"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			yml := strings.Replace(defaultKongYML("http://127.0.0.1:1"),
				"  - name: gatewatch\n    config:\n", "  - name: gatewatch\n    config:\n      "+c.config+"\n", 1)
			require.Contains(t, yml, c.config)
			prefix := shortTempDir(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			gw, err := kongsim.Start(ctx, kongsim.Options{
				Prefix:      prefix,
				ProxyListen: "127.0.0.1:0",
				Declarative: []byte(yml),
				Conf:        pluginConf(prefix, ""),
				Stderr:      testWriter{t},
			})
			if gw != nil {
				_ = gw.Close()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config."+c.want)
		})
	}
}
