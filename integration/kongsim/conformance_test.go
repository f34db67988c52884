package kongsim

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gatewatch/gatewatch/internal/syncbuf"
)

// Appendix A 5, §2.5, §2.8: nil results are zero-length reply frames.
func TestNilResultsAreZeroLengthFrames(t *testing.T) {
	replies := make(chan []byte, 2)
	e, _ := startFakeEnv(t, fakeYML(`{}`), func(ask func(string, proto.Message) []byte, ev *pb.CmdHandleEvent) bool {
		if ev.EventName == "access" {
			replies <- ask("kong.request.get_header", &pb.String{V: "x-missing"})
			replies <- ask("kong.request.get_header", &pb.String{V: "x-present"})
		}
		return true
	})
	require.Equal(t, 200, e.get(t, "/r", map[string]string{"X-Present": "yes"}).status)
	e.idle(t)
	missing, present := <-replies, <-replies
	assert.NotNil(t, missing, "a reply frame was sent")
	assert.Empty(t, missing, "nil encodes as a zero-length frame")
	var s pb.String
	require.NoError(t, proto.Unmarshal(present, &s))
	assert.Equal(t, "yes", s.V)
}

// Appendix A 6, §2.6, §2.7: a failing start-instance is a raised error:
// 500 in access with source "error".
func TestStartInstanceFailureIsA500(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"},
		conf: func(prefix string) map[string]string {
			c := serverConfFor(prefix, []string{"probe"}, nil)
			c["plugins"] += ",fake"
			c["pluginserver_names"] += ",fake"
			c["pluginserver_fake_query_cmd"] = dumpCmd(t, prefix, "fake", 2000, []string{"access"}, fakeFields)
			return c
		},
		before: func(prefix string) {
			fs := startFakeServer(t, filepath.Join(prefix, "fake.socket"), "fake")
			fs.failStart = true
		},
		yml: fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM
    routes: [ { name: r, paths: ["/r"] } ]
plugins:
  - { name: fake }
  - { name: probe, config: { out: %q, access: ["method"], log: ["source", "status"] } }
`, out)})
	resp := e.get(t, "/r", nil)
	e.idle(t)
	assert.Equal(t, 500, resp.status)
	assert.Equal(t, errorBody("3.9", "An unexpected error occurred", resp.header.Get("X-Kong-Request-Id")), resp.body)
	assert.Contains(t, e.log.String(), "starting instance: closed")
	rs := readProbe(t, out)
	_, ranAccess := findProbe(rs, "access", "method")
	assert.False(t, ranAccess, "remaining access handlers are skipped")
	src, _ := findProbe(rs, "log", "source")
	assert.Equal(t, "error", src.Value, "a raised error marks KONG_UNEXPECTED")
}

// §5.2, §2.7: an unreachable upstream is Kong's 502 from its error handler,
// with source "error".
func TestUpstreamFailureIsA502WithSourceError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: s
    url: http://%s
    routes: [ { name: r, paths: ["/r"] } ]
plugins:
  - { name: probe, config: { out: %q, log: ["source", "serialize"] } }
`, dead, out)})
	resp := e.get(t, "/r", nil)
	e.idle(t)
	assert.Equal(t, 502, resp.status)
	assert.Equal(t, "text/plain; charset=utf-8", resp.header.Get("Content-Type"), "§2.7 the error handler defaults to error_default_type")
	assert.Equal(t, "An invalid response was received from the upstream server\nrequest_id: "+resp.header.Get("X-Kong-Request-Id")+"\n", resp.body)
	withAccept := e.get(t, "/r", map[string]string{"Accept": "application/json"})
	assert.Equal(t, errorBody("3.9", "An invalid response was received from the upstream server", withAccept.header.Get("X-Kong-Request-Id")), withAccept.body)
	rs := readProbe(t, out)
	src, _ := findProbe(rs, "log", "source")
	assert.Equal(t, "error", src.Value)
	ser, _ := findProbe(rs, "log", "serialize")
	assert.Contains(t, ser.Value, `"source":"kong"`)
	assert.Contains(t, ser.Value, `"state":"failed"`)
}

// Appendix A 9, §3.1: rewrite runs only for global configs.
func TestRewriteRunsOnlyForGlobalConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, scope string
		want        int
	}{
		{"a global config gets the rewrite event", "", 1},
		{"a route-scoped config never does", "route: r", 0},
	} {
		t.Run("§3.1 "+tc.name, func(t *testing.T) {
			var fs *fakeServer
			e := startEnv(t, envOptions{
				conf: func(prefix string) map[string]string {
					return map[string]string{"plugins": "bundled,fake", "pluginserver_names": "fake",
						"pluginserver_fake_query_cmd": dumpCmd(t, prefix, "fake", 10, []string{"rewrite"}, fakeFields)}
				},
				before: func(prefix string) { fs = startFakeServer(t, filepath.Join(prefix, "fake.socket"), "fake") },
				yml: `
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM
    routes: [ { name: r, paths: ["/r"] } ]
plugins:
  - { name: fake, ` + tc.scope + ` }
`})
			require.Equal(t, 200, e.get(t, "/r", nil).status)
			e.idle(t)
			_, calls, _ := fs.snapshot()
			n := 0
			for _, c := range calls {
				if ev := c.GetCmdHandleEvent(); ev != nil && ev.EventName == "rewrite" {
					n++
				}
			}
			assert.Equal(t, tc.want, n)
		})
	}
}

// §1.1, §8: configuration errors are reported as Kong reports them.
func TestConfigurationErrors(t *testing.T) {
	cases := []struct {
		name string
		conf map[string]string
		yml  string
		want string
	}{
		{"§1.1 a pluginserver without query_cmd fails", map[string]string{"pluginserver_names": "ghost"}, "", "query_command undefined for pluginserver ghost"},
		{"§8 a plugin not in `plugins` fails", map[string]string{"plugins": "key-auth"}, `
_format_version: "3.0"
plugins: [ { name: acl, config: { allow: [a] } } ]`, "plugin 'acl' not enabled; add it to the 'plugins' configuration property"},
		{"§8 an unknown config key names the field", nil, `
_format_version: "3.0"
plugins: [ { name: key-auth, config: { key_nmes: [a] } } ]`, "config.key_nmes: unknown field"},
		{"§8 a wrong type names the field", nil, `
_format_version: "3.0"
plugins: [ { name: rate-limiting, config: { minute: "five" } } ]`, "config.minute: expected a number"},
		{"§8 a one_of violation lists the choices", nil, `
_format_version: "3.0"
plugins: [ { name: request-size-limiting, config: { size_unit: gigabytes } } ]`, "config.size_unit: expected one of: megabytes, kilobytes, bytes"},
		{"§8 a route without matchers fails", nil, `
_format_version: "3.0"
services: [ { name: s, url: "http://127.0.0.1:1", routes: [ { name: r } ] } ]`, "must set one of 'methods', 'hosts', 'headers', 'paths'"},
		{"§8 a wrong _format_version fails", nil, `_format_version: "9.9"`, "_format_version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(t.Context(), Options{Prefix: shortTempDir(t), ProxyListen: "127.0.0.1:0", Conf: tc.conf, Declarative: []byte(tc.yml)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// §1.4: a server that keeps dying is respawned once a second; Start gives
// up after three exits instead of waiting for its deadline.
func TestStartFailsWhenAPluginServerKeepsExiting(t *testing.T) {
	prefix := shortTempDir(t)
	log := &syncbuf.Buffer{}
	begin := time.Now()
	_, err := Start(t.Context(), Options{Prefix: prefix, ProxyListen: "127.0.0.1:0", Stderr: log, Conf: map[string]string{
		"plugins": "bundled,fake", "pluginserver_names": "fake",
		"pluginserver_fake_query_cmd": dumpCmd(t, prefix, "fake", 10, []string{"access"}, fakeFields),
		"pluginserver_fake_start_cmd": "sh -c 'echo boom; exit 7'",
	}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited 3 times")
	assert.Greater(t, time.Since(begin), 1900*time.Millisecond, "respawns wait a second each")
	assert.Regexp(t, `\[fake:\d+\] boom`, log.String(), "output lines are logged with name and pid")
	assert.Contains(t, log.String(), "external pluginserver 'fake' terminated: exit 7")
}

// §2.8: a raw 0xff byte in a header or the request line reaches the plugin
// unchanged (Kong's encoder does not check UTF-8; Go's would refuse).
func TestRawBytesReachThePlugin(t *testing.T) {
	replies := make(chan []byte, 3)
	e, _ := startFakeEnv(t, fakeYML(`{}`), func(ask func(string, proto.Message) []byte, ev *pb.CmdHandleEvent) bool {
		if ev.EventName == "access" {
			replies <- ask("kong.nginx.get_var", &pb.String{V: "request"})
			replies <- ask("kong.request.get_header", &pb.String{V: "x-evil"})
			replies <- ask("kong.request.get_headers", &pb.Int{V: 100})
		}
		return true
	})
	resp := e.get(t, "/r?q=1", map[string]string{"X-Evil": "a\xffb"})
	require.Equal(t, 200, resp.status)
	e.idle(t)
	line, header, headers := <-replies, <-replies, <-replies
	assert.Contains(t, string(line), "GET /r?q=1 HTTP/1.1")
	assert.Contains(t, string(header), "a\xffb")
	assert.Contains(t, string(headers), "a\xffb")
	assert.Error(t, proto.Unmarshal(header, &pb.String{}), "Go's protobuf rejects it, as go-pdk's typed calls do")
}
