package pluginserver

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// testConfig is the plugin the server tests run. Its Access handler does
// what its Action field says, so one plugin covers every case.
type testConfig struct {
	Action  string   `json:"action" kong:"default=echo;one_of=echo|panic|exit|exit_then_panic|wait|calls"`
	Header  string   `json:"header" kong:"default=host"`
	Calls   int      `json:"calls" kong:"default=1;between=0|1000"`
	List    []string `json:"list,omitempty" kong:"default=[]"`
	Prepped bool     `json:"-"`

	seen *observed
}

// observed collects what handlers saw; shared by every instance of a test.
type observed struct {
	mu      sync.Mutex
	configs []testConfig
	release chan struct{}
}

func (c *testConfig) Prepare() error {
	if c.Header == "refuse" {
		return errors.New("header refuse is refused")
	}
	c.Prepped = true
	return nil
}

func (c *testConfig) Access(kong *pdk.PDK) {
	c.seen.mu.Lock()
	c.seen.configs = append(c.seen.configs, *c)
	c.seen.mu.Unlock()
	switch c.Action {
	case "echo":
		v, err := kong.Request.GetHeader(c.Header)
		if err == nil {
			_ = kong.Response.SetHeader("x-echo", v)
		}
	case "calls":
		for i := 0; i < c.Calls; i++ {
			if _, err := kong.Request.GetHeader(c.Header); err != nil {
				return
			}
		}
	case "panic":
		var m map[string]int
		m["boom"]++ // nil map write: a runtime panic, as a real bug would be
	case "exit":
		kong.Response.Exit(403, []byte(`{"message":"blocked"}`), map[string][]string{"Content-Type": {"application/json"}})
	case "exit_then_panic":
		kong.Response.ExitStatus(403)
		panic("after exit")
	case "wait":
		<-c.seen.release
		_, _ = kong.Request.GetHeader(c.Header)
	}
}

func testPlugin(seen *observed) Plugin {
	return Plugin{
		Name:     "test-plugin",
		Version:  "1.2.3",
		Priority: 1010,
		New:      func() any { return &testConfig{seen: seen} },
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func hostBridge(method string, args []byte) (proto.Message, bool) {
	switch method {
	case "kong.request.get_header":
		return &kpp.String{V: "example.test"}, false
	default:
		return nil, false
	}
}

func TestServeProtocol(t *testing.T) {
	seen := &observed{}
	stats := &Stats{}
	socket, stop := servePlugin(t, testPlugin(seen), ServeOptions{Logger: quietLogger(), Stats: stats})

	t.Run("start instance uses __seq__ as the id and echoes name and sequence", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":7,"__key__":"plugins:test-plugin:::::ws","__plugin_id":"p1"}`)
		require.NoError(t, err)
		assert.Equal(t, int32(7), st.InstanceId)
		assert.Equal(t, "test-plugin", st.Name)
		assert.InDelta(t, time.Now().Unix(), st.StartedAt, 5)
	})

	t.Run("start instance without __seq__ gets a random id clear of Kong's counter", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{}`)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, st.InstanceId, int32(1<<30))
	})

	t.Run("an event runs the handler over the bridge and ends with the empty frame and RpcReturn", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":11,"header":"x-api"}`)
		require.NoError(t, err)
		calls, err := k.event(st.InstanceId, "access", hostBridge)
		require.NoError(t, err)
		require.Len(t, calls, 2)
		assert.Equal(t, "kong.request.get_header", calls[0].Method)
		var arg kpp.String
		require.NoError(t, proto.Unmarshal(calls[0].Args, &arg))
		assert.Equal(t, "x-api", arg.V)
		assert.Equal(t, "kong.response.set_header", calls[1].Method)
	})

	t.Run("one connection carries several calls in a row", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":12}`)
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			_, err := k.event(st.InstanceId, "access", hostBridge)
			require.NoError(t, err)
		}
		_, err = k.close(st.InstanceId)
		require.NoError(t, err)
	})

	t.Run("defaults from the kong tags fill what the config leaves out", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":13,"list":{}}`)
		require.NoError(t, err)
		_, err = k.event(st.InstanceId, "access", hostBridge)
		require.NoError(t, err)
		seen.mu.Lock()
		got := seen.configs[len(seen.configs)-1]
		seen.mu.Unlock()
		assert.Equal(t, "echo", got.Action)
		assert.Equal(t, "host", got.Header)
		assert.Equal(t, 1, got.Calls)
		assert.Equal(t, []string{}, got.List, "an empty Lua table sent as {} must read as an empty list")
		assert.True(t, got.Prepped, "Prepare must run before the instance serves")
	})

	t.Run("close replies with name --- and removes only that instance", func(t *testing.T) {
		k := dialKong(t, socket)
		a, err := k.start(`{"__seq__":21}`)
		require.NoError(t, err)
		b, err := k.start(`{"__seq__":22}`)
		require.NoError(t, err)
		st, err := k.close(a.InstanceId)
		require.NoError(t, err)
		assert.Equal(t, "---", st.Name)
		assert.Equal(t, int32(21), st.InstanceId)
		_, err = k.event(b.InstanceId, "access", hostBridge)
		require.NoError(t, err, "the other instance must survive a close")

		k2 := dialKong(t, socket)
		_, err = k2.event(a.InstanceId, "access", hostBridge)
		require.ErrorIs(t, err, io.EOF, "the closed instance must be gone")
	})

	t.Run("closing an unknown instance is answered", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.close(999)
		require.NoError(t, err)
		assert.Equal(t, "---", st.Name)
	})

	refusals := []struct {
		name  string
		drive func(k *fakeKong)
	}{
		{"an event for an unknown instance closes the connection without a reply", func(k *fakeKong) {
			_, err := k.event(4242, "access", nil)
			require.ErrorIs(t, err, io.EOF)
		}},
		{"an event for a phase the plugin lacks closes the connection without a reply", func(k *fakeKong) {
			st, err := k.start(`{"__seq__":31}`)
			require.NoError(t, err)
			_, err = k.event(st.InstanceId, "log", nil)
			require.ErrorIs(t, err, io.EOF)
		}},
		{"a config of the wrong type closes the connection without a reply", func(k *fakeKong) {
			_, err := k.start(`{"__seq__":32,"calls":"many"}`)
			require.ErrorIs(t, err, io.EOF)
		}},
		{"config that is not JSON closes the connection without a reply", func(k *fakeKong) {
			_, err := k.start(`{"__seq__":`)
			require.ErrorIs(t, err, io.EOF)
		}},
		{"a Prepare error closes the connection without a reply", func(k *fakeKong) {
			_, err := k.start(`{"__seq__":33,"header":"refuse"}`)
			require.ErrorIs(t, err, io.EOF)
		}},
		{"a frame that is not an RpcCall closes the connection", func(k *fakeKong) {
			require.NoError(t, k.send([]byte{0xff, 0xff, 0xff}))
			k.expectClosed()
		}},
		{"a call Kong never sends closes the connection", func(k *fakeKong) {
			_, err := k.call(&kpp.RpcCall{Call: &kpp.RpcCall_CmdGetPluginNames{CmdGetPluginNames: &kpp.CmdGetPluginNames{}}})
			require.ErrorIs(t, err, io.EOF)
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := stats.Refused.Load()
			tc.drive(dialKong(t, socket))
			assert.Equal(t, before+1, stats.Refused.Load())
		})
	}

	require.NoError(t, stop())
	_, err := os.Stat(socket)
	assert.True(t, os.IsNotExist(err), "the socket file must be removed at shutdown")
}

func TestServeHandlerPanics(t *testing.T) {
	seen := &observed{}
	stats := &Stats{}
	reg := prometheus.NewRegistry()
	socket, _ := servePlugin(t, testPlugin(seen), ServeOptions{Logger: quietLogger(), Stats: stats, Registerer: reg})

	t.Run("a panic is logged through kong.log.err and the event ends normally", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":1,"action":"panic"}`)
		require.NoError(t, err)
		calls, err := k.event(st.InstanceId, "access", nil)
		require.NoError(t, err, "Kong must get the end frame and RpcReturn, so the request goes on")
		require.Len(t, calls, 1)
		assert.Equal(t, "kong.log.err", calls[0].Method)
		var args structpb.ListValue
		require.NoError(t, proto.Unmarshal(calls[0].Args, &args))
		require.Len(t, args.Values, 1)
		msg := args.Values[0].GetStringValue()
		assert.Contains(t, msg, "test-plugin: access handler panic")
		assert.Contains(t, msg, "nil map")
		assert.Equal(t, uint64(1), stats.Panics.Load())

		// The same connection and the process go on serving.
		ok, err := k.start(`{"__seq__":2}`)
		require.NoError(t, err)
		_, err = k.event(ok.InstanceId, "access", hostBridge)
		require.NoError(t, err)
	})

	t.Run("a panic after kong.response.exit is counted and the connection is done", func(t *testing.T) {
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":3,"action":"exit_then_panic"}`)
		require.NoError(t, err)
		before := stats.Panics.Load()
		// Kong answers the exit with nothing and stops reading; here it
		// replies so that go-pdk's Exit returns and the panic runs now.
		calls, err := k.event(st.InstanceId, "access", func(string, []byte) (proto.Message, bool) { return nil, false })
		require.ErrorIs(t, err, io.EOF)
		require.Len(t, calls, 1)
		assert.Equal(t, "kong.response.exit", calls[0].Method)
		// Exit closes the connection before the panic happens.
		waitFor(t, func() bool { return stats.Panics.Load() == before+1 })
	})

	assert.Equal(t, float64(2), counterValue(t, reg, "gatewatch_plugin_panics_total"))
}

// counterValue reads a registered counter through Gather.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestServeExit(t *testing.T) {
	seen := &observed{}
	socket, _ := servePlugin(t, testPlugin(seen), ServeOptions{Logger: quietLogger()})

	cases := []struct {
		name  string
		reply bool
	}{
		{"after kong.response.exit Kong stops reading and the plugin ends when Kong drops the socket", false},
		{"after kong.response.exit with a reply the plugin closes the connection without end frame", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := dialKong(t, socket)
			st, err := k.start(`{"action":"exit","__seq__":` + string(rune('1'+i)) + `}`)
			require.NoError(t, err)
			calls, err := k.event(st.InstanceId, "access", func(method string, _ []byte) (proto.Message, bool) {
				return nil, !tc.reply
			})
			require.Len(t, calls, 1)
			assert.Equal(t, "kong.response.exit", calls[0].Method)
			var exit kpp.ExitArgs
			require.NoError(t, proto.Unmarshal(calls[0].Args, &exit))
			assert.Equal(t, int32(403), exit.Status)
			if tc.reply {
				require.ErrorIs(t, err, io.EOF)
				return
			}
			require.ErrorIs(t, err, errHungUp)
			k.conn.Close() // request over: Kong's cosocket is cleaned up
		})
	}
}

func TestServeShutdown(t *testing.T) {
	t.Run("an in-flight event finishes and idle connections are closed before Serve returns", func(t *testing.T) {
		seen := &observed{release: make(chan struct{})}
		socket, stop := servePlugin(t, testPlugin(seen), ServeOptions{Logger: quietLogger(), DrainTimeout: 10 * time.Second})
		idle := dialKong(t, socket)
		_, err := idle.start(`{"__seq__":1}`)
		require.NoError(t, err)

		busy := dialKong(t, socket)
		st, err := busy.start(`{"__seq__":2,"action":"wait"}`)
		require.NoError(t, err)
		eventDone := make(chan error, 1)
		go func() {
			_, err := busy.event(st.InstanceId, "access", hostBridge)
			eventDone <- err
		}()
		waitFor(t, func() bool { seen.mu.Lock(); defer seen.mu.Unlock(); return len(seen.configs) == 1 })

		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		idle.expectClosed()
		_, err = os.Stat(socket)
		require.True(t, os.IsNotExist(err), "the socket file goes as soon as accepting stops")
		select {
		case <-stopped:
			t.Fatal("Serve returned with an event in flight")
		case <-time.After(100 * time.Millisecond):
		}
		close(seen.release)
		require.NoError(t, <-eventDone, "the in-flight event must complete with its RpcReturn")
		require.NoError(t, <-stopped)
		busy.expectClosed()
	})

	t.Run("a handler that never finishes is cut off at the drain timeout", func(t *testing.T) {
		seen := &observed{}
		socket, stop := servePlugin(t, testPlugin(seen), ServeOptions{Logger: quietLogger(), DrainTimeout: 100 * time.Millisecond})
		k := dialKong(t, socket)
		st, err := k.start(`{"__seq__":1}`)
		require.NoError(t, err)
		stalled := make(chan struct{})
		t.Cleanup(func() { close(stalled) })
		go func() {
			// Kong stalls on the first PDK call.
			_, _ = k.event(st.InstanceId, "access", func(string, []byte) (proto.Message, bool) {
				<-stalled
				return nil, true
			})
		}()
		waitFor(t, func() bool { seen.mu.Lock(); defer seen.mu.Unlock(); return len(seen.configs) == 1 })
		started := time.Now()
		require.ErrorIs(t, stop(), ErrDrainTimeout)
		assert.Less(t, time.Since(started), 5*time.Second)
	})
}

func TestListen(t *testing.T) {
	t.Run("a stale socket file is replaced", func(t *testing.T) {
		path := shortTempDir(t) + "/p.socket"
		first, err := Listen(path)
		require.NoError(t, err)
		// Simulate a killed server: the file stays, nobody listens.
		first.(*socketListener).UnixListener.Close()
		_, err = os.Stat(path)
		require.NoError(t, err)
		l, err := Listen(path)
		require.NoError(t, err)
		require.NoError(t, l.Close())
		_, err = os.Stat(path)
		assert.True(t, os.IsNotExist(err))
	})

	t.Run("a file that is not a socket is left alone", func(t *testing.T) {
		path := shortTempDir(t) + "/p.socket"
		require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
		_, err := Listen(path)
		require.ErrorContains(t, err, "not a socket")
	})

	t.Run("closing leaves a newer server's socket in place", func(t *testing.T) {
		path := shortTempDir(t) + "/p.socket"
		old, err := Listen(path)
		require.NoError(t, err)
		next, err := Listen(path) // the next server removes ours and listens
		require.NoError(t, err)
		require.NoError(t, old.Close())
		_, err = os.Stat(path)
		require.NoError(t, err, "the old server must not remove the new socket")
		require.NoError(t, next.Close())
	})

	t.Run("a socket path longer than sun_path is refused with a reason", func(t *testing.T) {
		_, err := Listen("/tmp/" + strings.Repeat("x", 100) + ".socket")
		require.ErrorContains(t, err, "too long")
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
