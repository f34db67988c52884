package pluginserver

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
)

// Kong's side of the protocol for these tests is package pluginservertest.

// shortTempDir returns a directory whose socket paths fit in sun_path
// (t.TempDir embeds the test name and can exceed 107 bytes).
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ps")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fakeKong adapts pluginservertest.Kong to the tests' vocabulary, failing
// the test on setup errors.
type fakeKong struct {
	t testing.TB
	*pluginservertest.Kong
	conn net.Conn
}

func dialKong(t testing.TB, socket string) *fakeKong {
	t.Helper()
	k, err := pluginservertest.Dial(socket, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return &fakeKong{t: t, Kong: k, conn: k.Conn()}
}

func (k *fakeKong) send(data []byte) error { return k.SendFrame(data) }

func (k *fakeKong) call(c *kpp.RpcCall) (*kpp.RpcReturn, error) { return k.Call(c) }

func (k *fakeKong) start(config string) (*kpp.InstanceStatus, error) {
	return k.StartInstance("test-plugin", config)
}

func (k *fakeKong) close(id int32) (*kpp.InstanceStatus, error) { return k.CloseInstance(id) }

type pdkCall = pluginservertest.Call

type bridgeFunc = pluginservertest.Bridge

func (k *fakeKong) event(id int32, name string, bridge bridgeFunc) ([]pdkCall, error) {
	return k.HandleEvent(id, name, bridge)
}

var errHungUp = pluginservertest.ErrHungUp

// expectClosed asserts that the plugin closed the connection without
// sending anything.
func (k *fakeKong) expectClosed() {
	k.t.Helper()
	var b [1]byte
	n, err := k.conn.Read(b[:])
	require.Equal(k.t, 0, n, "plugin sent data instead of closing")
	require.ErrorIs(k.t, err, io.EOF)
}

// servePlugin runs Serve on a fresh socket and returns its path and a
// function that stops the server and returns Serve's error.
func servePlugin(t testing.TB, p Plugin, opts ServeOptions) (socket string, stop func() error) {
	t.Helper()
	socket = filepath.Join(shortTempDir(t), p.Name+".socket")
	l, err := Listen(socket)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, p, opts) }()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Serve did not return")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return socket, stop
}
