package kongsim

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeYML scopes the probe to one route behind key-auth with the given
// access and log actions.
func probeYML(out string, access, logActions []string) string {
	q := func(l []string) string {
		b, _ := json.Marshal(l)
		return string(b)
	}
	return fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: demo
    url: UPSTREAM
    routes:
      - name: open
        paths: ["/open"]
        plugins:
          - name: probe
            config: { out: %q, access: %s, log: %s }
      - name: locked
        paths: ["/locked"]
        plugins:
          - name: key-auth
          - name: probe
            config: { out: %q, access: %s, log: %s }
consumers:
  - username: alice
    keyauth_credentials: [ { key: alice-key } ]
`, out, q(access), q(logActions), out, q(access), q(logActions))
}

// Appendix A 7, §6.2: exit in access is recorded without a reply, later
// access handlers are skipped, every matched plugin's log still runs.
func TestExitInAccessShortCircuitsButLogStillRuns(t *testing.T) {
	dir := shortTempDir(t)
	outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	e := startEnv(t, envOptions{
		servers:   []string{"probe", "probe-b"},
		serverEnv: map[string]string{"probe-b": "env PROBE_PRIORITY=10 "},
		yml: fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: demo
    url: UPSTREAM
    routes:
      - name: r
        paths: ["/r"]
plugins:
  - name: probe
    config: { out: %q, access: ["set-header:x-before=1", "exit:418=teapot"], log: ["status", "source", "resp-header:x-before"] }
  - name: probe-b
    config: { out: %q, access: ["path"], log: ["status", "source"] }
`, outA, outB)})
	resp := e.get(t, "/r", nil)
	e.idle(t)

	t.Run("§6.2 the client gets the exit's status, body and headers, plus headers set before", func(t *testing.T) {
		assert.Equal(t, 418, resp.status)
		assert.Equal(t, "teapot", resp.body)
		assert.Equal(t, "text/plain", resp.header.Get("Content-Type"))
		assert.Equal(t, "1", resp.header.Get("x-before"))
		assert.Equal(t, "kong/3.9.1", resp.header.Get("Server"))
	})
	a, b := waitProbe(t, outA, "access", "after-exit"), readProbe(t, outB)
	t.Run("§6.2 go-pdk's code after Exit fails: the connection is gone", func(t *testing.T) {
		r, ok := findProbe(a, "access", "after-exit")
		require.True(t, ok)
		assert.NotEmpty(t, r.Err)
	})
	t.Run("§6.2 the lower-priority plugin's access never ran", func(t *testing.T) {
		_, ok := findProbe(b, "access", "path")
		assert.False(t, ok)
	})
	t.Run("§6.2 both plugins' log handlers ran and saw the exit", func(t *testing.T) {
		for name, rs := range map[string][]probeResult{"probe": a, "probe-b": b} {
			st, ok := findProbe(rs, "log", "status")
			require.True(t, ok, name)
			assert.EqualValues(t, 418, st.Value, name)
			src, _ := findProbe(rs, "log", "source")
			assert.Equal(t, "exit", src.Value, name)
		}
		h, _ := findProbe(a, "log", "resp-header:x-before")
		assert.Equal(t, "1", h.Value)
	})
	t.Run("§6.2 the upstream was never called", func(t *testing.T) {
		assert.Empty(t, e.hits)
	})
}

// Appendix A 5, §2.5, §2.7: an unknown PDK method fails the event with
// `method "<x>" not found`; from 3.8 that is a 500, before it is only
// logged and the request goes on.
func TestUnknownPDKMethod(t *testing.T) {
	for _, tc := range []struct {
		version string
		status  int
	}{{"3.9", 500}, {"3.4", 200}} {
		t.Run(fmt.Sprintf("§2.7 on Kong %s the client gets %d", tc.version, tc.status), func(t *testing.T) {
			out := filepath.Join(shortTempDir(t), "out.jsonl")
			e := startEnv(t, envOptions{version: tc.version, servers: []string{"probe"}, yml: probeYML(out, []string{"unknown"}, nil)})
			resp := e.get(t, "/open", nil)
			e.idle(t)
			assert.Equal(t, tc.status, resp.status)
			assert.Contains(t, e.log.String(), `method "kong.nope.nothing" not found`)
			if tc.status == 500 {
				assert.Equal(t, "{\n  \"message\":\"An unexpected error occurred\",\n  \"request_id\":\""+resp.header.Get("X-Kong-Request-Id")+"\"\n}", resp.body)
			}
		})
	}
}

// Appendix A 8, §3.3, §5: what the log handler reads is the saved data, and
// kong.log.serialize has the version's shape.
func TestLogPhaseSeesSavedDataAndTheVersionsSerializerShape(t *testing.T) {
	for _, version := range []string{"3.4", "3.9"} {
		t.Run("Kong "+version, func(t *testing.T) {
			out := filepath.Join(shortTempDir(t), "out.jsonl")
			e := startEnv(t, envOptions{version: version, servers: []string{"probe"}, yml: probeYML(out,
				[]string{"ssv:gatewatch.finding=sqli", "shared-set:k=v"},
				[]string{"serialize", "source", "status", "header:apikey", "shared-get:k", "consumer", "path", "method"})})
			resp := e.get(t, "/locked/x?q=1", map[string]string{"apikey": "alice-key", "Authorization": "Bearer secret"})
			require.Equal(t, 200, resp.status)
			e.idle(t)
			rs := waitProbe(t, out, "log", "method")

			ser, ok := findProbe(rs, "log", "serialize")
			require.True(t, ok)
			var entry map[string]any
			require.NoError(t, json.Unmarshal([]byte(ser.Value.(string)), &entry))
			assert.Contains(t, ser.Value.(string), `\/locked\/x`, "cjson escapes /")
			req := entry["request"].(map[string]any)
			lat := entry["latencies"].(map[string]any)
			has := func(m map[string]any, k string) bool { _, ok := m[k]; return ok }
			if version == "3.9" {
				assert.Equal(t, "upstream", entry["source"])
				assert.Equal(t, resp.header.Get("X-Kong-Request-Id"), req["id"])
				assert.True(t, has(lat, "receive"))
				assert.True(t, has(entry, "workspace"))
				assert.Equal(t, "default", entry["workspace_name"])
			} else {
				for _, k := range []string{"source", "workspace", "workspace_name"} {
					assert.False(t, has(entry, k), "3.4 has no %s", k)
				}
				assert.False(t, has(req, "id"))
				assert.False(t, has(lat, "receive"))
			}
			assert.Equal(t, map[string]any{"finding": "sqli"}, entry["gatewatch"], "dotted set_serialize_value keys nest")
			assert.Equal(t, "REDACTED", req["headers"].(map[string]any)["authorization"])
			assert.Equal(t, "/x?q=1", entry["upstream_uri"])
			assert.Equal(t, "200", entry["upstream_status"])
			assert.Equal(t, "alice", entry["consumer"].(map[string]any)["username"])
			assert.Contains(t, entry, "authenticated_entity")
			assert.Equal(t, "locked", entry["route"].(map[string]any)["name"])
			assert.Equal(t, "demo", entry["service"].(map[string]any)["name"])
			assert.Len(t, entry["tries"], 1)

			src, _ := findProbe(rs, "log", "source")
			assert.Equal(t, "service", src.Value)
			st, _ := findProbe(rs, "log", "status")
			assert.EqualValues(t, 200, st.Value)
			h, _ := findProbe(rs, "log", "header:apikey")
			assert.Equal(t, "alice-key", h.Value)
			sh, _ := findProbe(rs, "log", "shared-get:k")
			assert.Equal(t, "v", sh.Value)
			p, _ := findProbe(rs, "log", "path")
			assert.NotEmpty(t, p.Err, "§3.3 kong.request.get_path needs the live request: fails in the log timer")
			c, _ := findProbe(rs, "log", "consumer")
			assert.Empty(t, c.Err, "§3.3 kong.client.get_consumer reads ngx.ctx: works in the log timer")
			m, _ := findProbe(rs, "log", "method")
			assert.NotEmpty(t, m.Err, "§3.3 after a raise the timer aborted: the connection is closed")
		})
	}
}

// §5: a key-auth 401 short-circuit serializes as Kong's does.
func TestShortCircuitSerializesWithoutUpstream(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: probeYML(out, nil, []string{"serialize"})})
	resp := e.get(t, "/locked/x", nil)
	require.Equal(t, 401, resp.status)
	resp = e.get(t, "/nowhere", nil)
	require.Equal(t, 404, resp.status)
	e.idle(t)
	rs := readProbe(t, out)
	require.Len(t, rs, 1, "the route-scoped probe does not run for a 404: only global plugins do (§7.1)")
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(rs[0].Value.(string)), &entry))
	assert.Equal(t, "/x", entry["upstream_uri"])
	assert.Equal(t, "", entry["upstream_status"])
	assert.EqualValues(t, -1, entry["latencies"].(map[string]any)["proxy"])
	assert.Equal(t, []any{}, entry["tries"])
	assert.EqualValues(t, 401, entry["response"].(map[string]any)["status"])
	assert.Equal(t, "kong", entry["source"])
	assert.NotContains(t, entry, "consumer")
	assert.NotContains(t, entry, "authenticated_entity")
}

// §7.1: with no route only global plugins' log runs, and the entry has no
// route, service or tries.
func TestNoRouteRunsOnlyGlobalLog(t *testing.T) {
	dir := shortTempDir(t)
	out := filepath.Join(dir, "g.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: demo
    url: UPSTREAM
    routes: [ { name: r, paths: ["/r"] } ]
plugins:
  - name: probe
    config: { out: %q, access: ["path"], log: ["serialize", "source"] }
`, out)})
	resp := e.get(t, "/nowhere", nil)
	require.Equal(t, 404, resp.status)
	e.idle(t)
	rs := readProbe(t, out)
	_, ranAccess := findProbe(rs, "access", "path")
	assert.False(t, ranAccess, "no access handler runs without a route")
	ser, ok := findProbe(rs, "log", "serialize")
	require.True(t, ok)
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(ser.Value.(string)), &entry))
	for _, k := range []string{"route", "service", "tries"} {
		assert.NotContains(t, entry, k)
	}
	assert.Equal(t, "", entry["upstream_uri"])
	src, _ := findProbe(rs, "log", "source")
	assert.Equal(t, "exit", src.Value)
}

// Appendix A 4, §2.3-§2.6 and the stats contract: per request, the plugin's
// PDK calls per phase are counted exactly.
func TestStatsCountPDKCallsPerRequestAndPhase(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: probeYML(out, []string{"path", "method"}, []string{"serialize"})})
	var ids []string
	for i := 0; i < 3; i++ {
		resp := e.get(t, "/open", nil)
		require.Equal(t, 200, resp.status)
		ids = append(ids, resp.header.Get("X-Kong-Request-Id"))
	}
	e.idle(t)
	st := e.gw.Stats()
	for _, id := range ids {
		r, ok := st.Request(id)
		require.True(t, ok)
		assert.Equal(t, 1, r.Phase("probe", "log").PDKCalls, "exactly one PDK call in the log phase")
		assert.Equal(t, map[string]int{"kong.log.serialize": 1}, r.Phase("probe", "log").Methods)
		assert.Equal(t, 2, r.Phase("probe", "access").PDKCalls)
		assert.Equal(t, 200, r.Status)
	}
	total := st.Total("probe", "access")
	assert.Equal(t, 3, total.Events)
	assert.Equal(t, 6, total.PDKCalls)
	assert.Positive(t, total.RPCTime)
	// One instance served all three requests: a single start, no retries.
	assert.Equal(t, 1, strings.Count(e.log.String(), "restarting instances")+1)
}

// §3.4: PDK functions outside their phases fail the way Kong's do.
func TestPhaseRestrictions(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: probeYML(out, []string{"serialize"}, nil)})
	resp := e.get(t, "/open", nil)
	e.idle(t)
	assert.Equal(t, 500, resp.status, "a raised PDK error in access is a 500")
	assert.Contains(t, e.log.String(), "function cannot be called in access phase (only in: log)")
}
