package kongsim

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

const fakeFields = `{"mode":{"type":"string","default":"monitor","one_of":["monitor","block"]}},{"topic":{"type":"string"}},{"path":{"type":"string"}}`

func fakeYML(config string) string {
	return `
_format_version: "3.0"
services:
  - name: demo
    url: UPSTREAM
    routes:
      - name: r
        paths: ["/r"]
        plugins:
          - name: fake
            config: ` + config + `
`
}

func startFakeEnv(t *testing.T, yml string, onEvent func(ask func(string, proto.Message) []byte, ev *pb.CmdHandleEvent) bool) (*env, *fakeServer) {
	var fs *fakeServer
	e := startEnv(t, envOptions{yml: yml,
		conf: func(prefix string) map[string]string {
			return map[string]string{
				"plugins":                     "bundled,fake",
				"pluginserver_names":          "fake",
				"pluginserver_fake_query_cmd": dumpCmd(t, prefix, "fake", 800, []string{"access", "log"}, fakeFields),
			}
		},
		before: func(prefix string) {
			fs = startFakeServer(t, filepath.Join(prefix, "fake.socket"), "fake")
			fs.onEvent = onEvent
		},
	})
	return e, fs
}

// Appendix A 2-4, §2.3, §2.4, §2.2: what goes over the wire.
func TestWireProtocolAsKongSpeaksIt(t *testing.T) {
	e, fs := startFakeEnv(t, fakeYML(`{ path: "/a/b" }`), func(ask func(string, proto.Message) []byte, ev *pb.CmdHandleEvent) bool {
		if ev.EventName == "log" {
			ask("kong.log.serialize", nil)
		}
		return true
	})
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, e.get(t, "/r", nil).status)
		e.idle(t)
	}
	conns, calls, configs := fs.snapshot()

	t.Run("§2.3 sequence numbers are counter+1, starting at 2, and kong only sends 33/35/36", func(t *testing.T) {
		for i, c := range calls {
			assert.EqualValues(t, i+2, c.Sequence)
			switch c.Call.(type) {
			case *pb.RpcCall_CmdStartInstance, *pb.RpcCall_CmdHandleEvent, *pb.RpcCall_CmdCloseInstance:
			default:
				t.Errorf("unexpected call %T", c.Call)
			}
		}
		require.Len(t, calls, 1+5*2, "one start-instance, then access+log per request")
		_, ok := calls[0].Call.(*pb.RpcCall_CmdStartInstance)
		assert.True(t, ok, "start-instance precedes the first event")
	})
	t.Run("§2.4 the config JSON has defaults, no unset fields, Kong's ids and cjson escaping", func(t *testing.T) {
		require.Len(t, configs, 1)
		raw := string(configs[0])
		assert.Contains(t, raw, `"path":"\/a\/b"`, "cjson escapes /")
		var m map[string]any
		require.NoError(t, json.Unmarshal(configs[0], &m))
		assert.Equal(t, "monitor", m["mode"], "default applied")
		assert.NotContains(t, m, "topic", "unset fields are absent")
		assert.NotContains(t, m, "service_id", "route-scoped only")
		route := e.gw.cfg.Load().decl.routes[0]
		assert.Equal(t, route.id, m["route_id"])
		assert.Regexp(t, `^[0-9a-f-]{36}$`, m["__plugin_id"])
		assert.Equal(t, e.gw.wsID, m["__ws_id"])
		assert.Equal(t, "plugins:fake:"+route.id+":::"+":"+e.gw.wsID, m["__key__"])
		assert.EqualValues(t, 1, m["__seq__"])
	})
	t.Run("§2.2 connections are pooled and reused", func(t *testing.T) {
		assert.LessOrEqual(t, conns, 3, "11 calls over at most a few connections")
	})
	t.Run("§2.5 the PDK call in log is counted", func(t *testing.T) {
		assert.Equal(t, 5, e.gw.Stats().Total("fake", "log").Methods["kong.log.serialize"])
	})
}

// Appendix A 2, §2.6: a config change gives a new __seq__; the next event
// starts a new instance, then closes the old one.
func TestReloadStartsANewInstanceAndClosesTheOld(t *testing.T) {
	e, fs := startFakeEnv(t, fakeYML(`{ mode: monitor }`), nil)
	require.Equal(t, 200, e.get(t, "/r", nil).status)
	e.idle(t)
	require.NoError(t, e.gw.Reload([]byte(strings.ReplaceAll(fakeYML(`{ mode: block }`), "UPSTREAM", e.upstream.URL))))
	require.Equal(t, 200, e.get(t, "/r", nil).status)
	e.idle(t)
	_, calls, configs := fs.snapshot()
	require.Len(t, configs, 2)
	var first, second map[string]any
	require.NoError(t, json.Unmarshal(configs[0], &first))
	require.NoError(t, json.Unmarshal(configs[1], &second))
	assert.Equal(t, "block", second["mode"])
	assert.Greater(t, second["__seq__"].(float64), first["__seq__"].(float64))
	assert.Equal(t, first["__plugin_id"], second["__plugin_id"], "same plugin entity")
	var kinds []string
	for _, c := range calls {
		switch x := c.Call.(type) {
		case *pb.RpcCall_CmdStartInstance:
			kinds = append(kinds, "start")
		case *pb.RpcCall_CmdCloseInstance:
			kinds = append(kinds, "close")
			assert.EqualValues(t, first["__seq__"], x.CmdCloseInstance.InstanceId, "the old instance is closed")
		case *pb.RpcCall_CmdHandleEvent:
			kinds = append(kinds, x.CmdHandleEvent.EventName)
		}
	}
	assert.Equal(t, []string{"start", "access", "log", "start", "close", "access", "log"}, kinds)
}

// Appendix A 6, §2.7: a closed connection makes kongsim forget its
// instances, start again and retry; the client never notices.
func TestClosedConnectionRetriesWithANewInstance(t *testing.T) {
	e, fs := startFakeEnv(t, fakeYML(`{}`), nil)
	require.Equal(t, 200, e.get(t, "/r", nil).status)
	e.idle(t)
	fs.forgetInstances() // like a restarted server
	require.Equal(t, 200, e.get(t, "/r", nil).status)
	e.idle(t)
	_, _, configs := fs.snapshot()
	assert.Len(t, configs, 2, "a second start-instance after the closed connection")
	assert.Regexp(t, regexp.MustCompile(`lost \(closed\); restarting instances and retrying`), e.log.String())
}

// §6.2 over the wire: after kong.response.exit kongsim writes nothing more
// on that connection and the client gets the exit.
func TestExitGetsNoReplyFrame(t *testing.T) {
	replies := make(chan []byte, 1)
	e, _ := startFakeEnv(t, fakeYML(`{}`), func(ask func(string, proto.Message) []byte, ev *pb.CmdHandleEvent) bool {
		if ev.EventName != "access" {
			return true
		}
		replies <- ask("kong.response.exit", &pb.ExitArgs{Status: 451, Body: []byte("no")})
		return false
	})
	resp := e.get(t, "/r", nil)
	e.idle(t)
	assert.Equal(t, 451, resp.status)
	assert.Equal(t, "no", resp.body)
	assert.Empty(t, resp.header.Get("Content-Type"), "a string body gets no Content-Type")
	assert.Nil(t, <-replies, "no reply frame: the connection was dropped")
}

// §2.8: Value conversion quirks — false becomes nil, a Go nil arrives as
// "NULL_VALUE".
func TestValueConversionQuirks(t *testing.T) {
	assert.Nil(t, luaValue(structpbBool(false)))
	assert.Equal(t, true, luaValue(structpbBool(true)))
	assert.Equal(t, "NULL_VALUE", luaValue(structpbNull()))
	assert.Equal(t, 3.0, luaValue(structpbNumber(3)))
}

// §2.6: concurrent first requests share one start-instance: the others
// wait for the claim instead of starting their own.
func TestConcurrentFirstRequestsStartOneInstance(t *testing.T) {
	e, fs := startFakeEnv(t, fakeYML(`{}`), nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(e.gw.URL() + "/r")
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	e.idle(t)
	_, calls, configs := fs.snapshot()
	assert.Len(t, configs, 1, "one instance for one plugin config")
	seqs := map[int64]bool{}
	for _, c := range calls {
		assert.False(t, seqs[c.Sequence], "sequence %d reused", c.Sequence)
		seqs[c.Sequence] = true
	}
}

// §2.6 with go-pdk's real server: after a reload the next event starts a
// new instance and closes the old one; go-pdk keeps serving.
func TestReloadWithGoPDK(t *testing.T) {
	out := filepath.Join(shortTempDir(t), "out.jsonl")
	yml := probeYML(out, []string{"method"}, nil)
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: yml})
	require.Equal(t, 200, e.get(t, "/open", nil).status)
	e.idle(t)
	require.NoError(t, e.gw.Reload([]byte(strings.ReplaceAll(probeYML(out, []string{"path"}, nil), "UPSTREAM", e.upstream.URL))))
	require.Equal(t, 200, e.get(t, "/open", nil).status)
	e.idle(t)
	rs := readProbe(t, out)
	_, before := findProbe(rs, "access", "method")
	_, after := findProbe(rs, "access", "path")
	assert.True(t, before, "the first config ran")
	assert.True(t, after, "the reloaded config ran")
	assert.NotContains(t, e.log.String(), "restarting instances", "no closed connection on the way")
}
