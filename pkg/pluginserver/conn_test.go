package pluginserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
)

// countingListener counts Write calls on accepted connections: each is one
// write system call on the socket.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestBufferedFramesCostOneWritePerPDKCall(t *testing.T) {
	for _, calls := range []int{0, 1, 5} {
		t.Run(fmt.Sprintf("an event with %d PDK calls writes %d times", calls, calls+1), func(t *testing.T) {
			socket := shortTempDir(t) + "/bench.socket"
			inner, err := Listen(socket)
			require.NoError(t, err)
			l := &countingListener{Listener: inner}
			p := Plugin{Name: "bench", Version: "1.0.0", New: func() any { return &pluginservertest.BenchConfig{} }}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, l, p, ServeOptions{Logger: quietLogger()}) }()
			defer func() { cancel(); <-done }()

			k := dialKong(t, socket)
			st, err := k.StartInstance("bench", fmt.Sprintf(`{"calls":%d,"__seq__":1}`, calls))
			require.NoError(t, err)
			before := l.writes.Load()
			got, err := k.HandleEvent(st.InstanceId, "access", hostBridge)
			require.NoError(t, err)
			require.Len(t, got, calls)
			// Each PDK call's two frames go out in one write when the
			// bridge reads the reply; the end frame and the RpcReturn go
			// out together.
			assert.Equal(t, int64(calls+1), l.writes.Load()-before)
		})
	}
}

func TestRecoverableAfterAPanic(t *testing.T) {
	newConn := func() (*bridgeConn, *scriptedConn) {
		sc := &scriptedConn{in: bytes.NewReader(nil)}
		return newBridgeConn(sc), sc
	}
	t.Run("a half-written call still in the buffer is dropped and the stream is usable", func(t *testing.T) {
		bc, sc := newConn()
		require.NoError(t, bc.writeFrame([]byte("kong.request.get_header")))
		assert.True(t, bc.recoverable())
		require.NoError(t, bc.flush())
		assert.Zero(t, sc.out.Len(), "the dropped frame must never reach Kong")
	})
	t.Run("a call partly on the wire already makes the stream unusable", func(t *testing.T) {
		bc, _ := newConn()
		big := bytes.Repeat([]byte("x"), 64<<10) // larger than the buffer: flushed early
		require.NoError(t, bc.writeFrame(big))
		assert.False(t, bc.recoverable())
	})
	t.Run("after a read error the stream is unusable", func(t *testing.T) {
		bc, _ := newConn()
		_, err := bc.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF)
		assert.False(t, bc.recoverable())
	})
	t.Run("after the handler closed the connection the stream is unusable", func(t *testing.T) {
		bc, _ := newConn()
		require.NoError(t, bc.Close())
		assert.False(t, bc.recoverable())
	})
}

func TestIdleInstancesAreEvictedOnlyPastTheCap(t *testing.T) {
	c, err := compile(testPlugin(&observed{}))
	require.NoError(t, err)
	s := newServer(c, ServeOptions{Logger: quietLogger()})
	start := func(seq int) int32 {
		st, err := s.startInstance(&kpp.CmdStartInstance{Name: "test-plugin", Config: []byte(fmt.Sprintf(`{"__seq__":%d}`, seq))})
		require.NoError(t, err)
		return st.InstanceId
	}
	for i := 1; i <= maxInstances; i++ {
		start(i)
	}
	old := time.Now().Add(-2 * idleEviction).Unix()
	for id := int32(1); id <= 10; id++ {
		s.instances[id].lastUsed.Store(old) // idle for two hours
	}
	start(maxInstances + 1)
	assert.Len(t, s.instances, maxInstances+1-10)
	assert.Nil(t, s.lookup(1), "an idle instance is dropped once the cap is reached")
	assert.NotNil(t, s.lookup(11), "a recently used instance stays")
}
