package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/bridge/bridgetest"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatewatch/gatewatch/pkg/pluginserver"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema/metaschematest"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func plugin() pluginserver.Plugin {
	return pluginPlugin(NewRuntime(nil, nil))
}

func pluginPlugin(rt *Runtime) pluginserver.Plugin {
	return pluginserver.Plugin{Name: Name, Version: Version, Priority: Priority, New: rt.New}
}

func headersStruct(t testing.TB, h map[string][]string) *structpb.Struct {
	t.Helper()
	st, err := bridge.WrapHeaders(h)
	require.NoError(t, err)
	return st
}

// The go-pdk test package (test.New) cannot run this handler: its fake Kong
// has no kong.nginx.get_var and fails the test on it. go-pdk's bridgetest,
// the tool its own PDK tests use, scripts the exact calls instead, so a
// third call or a different argument fails the test.
func TestReadMakesExactlyTwoPDKCalls(t *testing.T) {
	cases := []struct {
		name       string
		cfg        Config
		wantMax    int32
		line       string
		headers    map[string][]string
		wantMethod string
		wantQuery  string
	}{
		{"a benign GET reads the request line and up to 1000 headers", Config{MaxHeaders: 1000}, 1000,
			"GET /orders?limit=10 HTTP/1.1", map[string][]string{"host": {"api.test"}, "accept": {"*/*"}}, "GET", "limit=10"},
		{"the configured header limit is what Kong is asked for", Config{MaxHeaders: 50}, 50,
			"POST /login HTTP/2.0", map[string][]string{"host": {"api.test"}}, "POST", ""},
		{"an out-of-range limit falls back to Kong's ceiling rather than failing the call", Config{}, 1000,
			"GET / HTTP/1.1", map[string][]string{}, "GET", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := bridgetest.Mock(t, []bridgetest.MockStep{
				{Method: "kong.nginx.get_var", Args: bridge.WrapString("request"), Ret: bridge.WrapString(tc.line)},
				{Method: "kong.request.get_headers", Args: &kpp.Int{V: tc.wantMax}, Ret: headersStruct(t, tc.headers)},
			})
			req, err := tc.cfg.read(pdk.Init(conn), newExchange())
			require.NoError(t, err)
			assert.Equal(t, tc.wantMethod, req.Line.Method)
			assert.Equal(t, tc.wantQuery, req.Line.RawQuery)
			got := append([]Header(nil), req.Headers...)
			sort.Slice(got, func(i, j int) bool {
				return got[i].Name < got[j].Name || got[i].Name == got[j].Name && got[i].Value < got[j].Value
			})
			assert.Equal(t, headerList(tc.headers), got)
		})
	}
}

// serveGuard runs the guard behind the real plugin-server loop.
func serveGuard(t *testing.T) (socket string, stats *pluginserver.Stats) {
	return serveRuntime(t, NewRuntime(nil, nil))
}

// serveRuntime runs instances of rt behind the real plugin-server loop.
func serveRuntime(t *testing.T, rt *Runtime) (socket string, stats *pluginserver.Stats) {
	t.Helper()
	dir, err := os.MkdirTemp("", "guard") // short: sun_path is 108 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket = filepath.Join(dir, Name+".socket")
	l, err := pluginserver.Listen(socket)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	stats = &pluginserver.Stats{}
	done := make(chan error, 1)
	go func() {
		done <- pluginserver.Serve(ctx, l, pluginPlugin(rt), pluginserver.ServeOptions{
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stats: stats,
		})
	}()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return socket, stats
}

func TestAccessThroughThePluginServer(t *testing.T) {
	socket, stats := serveGuard(t)
	kong, err := pluginservertest.Dial(socket, 10*time.Second)
	require.NoError(t, err)
	defer kong.Close()
	st, err := kong.StartInstance(Name, `{"__seq__":1,"__key__":"plugins:gatewatch-guard:r1::::ws","route_id":"r1"}`)
	require.NoError(t, err)

	t.Run("a benign GET costs two PDK calls and goes on to the upstream", func(t *testing.T) {
		calls, err := kong.HandleEvent(st.InstanceId, "access", func(method string, _ []byte) (proto.Message, bool) {
			switch method {
			case "kong.nginx.get_var":
				return bridge.WrapString("GET /health HTTP/1.1"), false
			case "kong.request.get_headers":
				return headersStruct(t, map[string][]string{"host": {"api.test"}}), false
			}
			return nil, false
		})
		require.NoError(t, err, "the event must end with the end frame and RpcReturn: the request is allowed")
		require.Len(t, calls, 2)
		assert.Equal(t, "kong.nginx.get_var", calls[0].Method)
		assert.Equal(t, "kong.request.get_headers", calls[1].Method)
		var max kpp.Int
		require.NoError(t, proto.Unmarshal(calls[1].Args, &max))
		assert.Equal(t, int32(1000), max.V, "the schema default for max_headers must reach the handler")
	})

	t.Run("a PDK call that fails lets the request through without further calls", func(t *testing.T) {
		calls, err := kong.HandleEvent(st.InstanceId, "access", func(string, []byte) (proto.Message, bool) {
			// Not a String: go-pdk fails to decode it.
			return &kpp.ExitArgs{Status: 1, Body: []byte{0xff}}, false
		})
		require.NoError(t, err)
		assert.Len(t, calls, 1)
	})

	assert.Zero(t, stats.Panics.Load())
}

func TestDumpIsWhatKongAccepts(t *testing.T) {
	out, err := pluginserver.Dump(plugin())
	require.NoError(t, err)
	var info struct {
		Plugins []struct {
			Name     string
			Priority int
			Phases   []string
			Schema   json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(out, &info))
	require.Len(t, info.Plugins, 1)
	assert.Equal(t, "gatewatch-guard", info.Plugins[0].Name)
	assert.Equal(t, []string{"access"}, info.Plugins[0].Phases)
	assert.Greater(t, info.Plugins[0].Priority, 990, "after ip-restriction would be too late")
	assert.Less(t, info.Plugins[0].Priority, 1030, "before hmac-auth would not know the consumer")
	require.NoError(t, metaschematest.Check(info.Plugins[0].Schema))

	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, out, "", "  "))
	golden := filepath.Join("testdata", "dump.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), pretty.String())
}

func BenchmarkRequestViewGoSide(b *testing.B) {
	// The Go-side cost of the handler: one scripted Kong per iteration
	// would dominate, so this drives the parser and header unwrapping the
	// handler runs, not the socket.
	h := headersStruct(b, map[string][]string{"host": {"api.test"}, "user-agent": {"curl/8"}, "accept": {"*/*"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseRequestLine("GET /orders?limit=10 HTTP/1.1"); err != nil {
			b.Fatal(err)
		}
		_ = bridge.UnwrapHeaders(h)
	}
}
