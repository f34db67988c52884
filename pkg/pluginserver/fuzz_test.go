package pluginserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// FuzzReadFrame: whatever arrives on the socket, the frame reader returns a
// frame no longer than the limit that matches its length prefix, or an
// error; it never panics or allocates past the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(nil, []byte("kong.request.get_header")))
	f.Add(AppendFrame(nil, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2})
	f.Add([]byte{3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 10
		frame, err := ReadFrame(bytes.NewReader(data), limit)
		if err != nil {
			if len(data) >= 4 && int(binary.LittleEndian.Uint32(data)) <= len(data)-4 && binary.LittleEndian.Uint32(data) <= limit {
				t.Fatalf("complete frame refused: %v", err)
			}
			return
		}
		if len(frame) > limit || !bytes.Equal(frame, data[4:4+len(frame)]) || int(binary.LittleEndian.Uint32(data)) != len(frame) {
			t.Fatalf("frame %x does not match input %x", frame, data)
		}
	})
}

// FuzzStartInstance: any config bytes Kong (or anyone on the socket) sends
// either start an instance or are refused with an error; never a panic.
func FuzzStartInstance(f *testing.F) {
	f.Add([]byte(`{"__seq__":3,"action":"echo","list":["a"]}`))
	f.Add([]byte(`{"list":{},"calls":1e3}`))
	f.Add([]byte(`{"__seq__":-1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	c, err := compile(testPlugin(&observed{}))
	if err != nil {
		f.Fatal(err)
	}
	s := newServer(c, ServeOptions{Logger: quietLogger()})
	f.Fuzz(func(t *testing.T, config []byte) {
		st, err := s.startInstance(&kpp.CmdStartInstance{Name: "test-plugin", Config: config})
		if err == nil && st.InstanceId <= 0 {
			t.Fatalf("instance id %d", st.InstanceId)
		}
	})
}

// FuzzServeCalls: a connection fed arbitrary bytes is served or closed; the
// server never panics and never answers with a reply it cannot encode.
func FuzzServeCalls(f *testing.F) {
	call := func(c *kpp.RpcCall) []byte {
		b, _ := proto.Marshal(c)
		return AppendFrame(nil, b)
	}
	f.Add(call(&kpp.RpcCall{Sequence: 2, Call: &kpp.RpcCall_CmdStartInstance{CmdStartInstance: &kpp.CmdStartInstance{Name: "x", Config: []byte(`{"__seq__":1}`)}}}))
	f.Add(append(call(&kpp.RpcCall{Sequence: 2, Call: &kpp.RpcCall_CmdStartInstance{CmdStartInstance: &kpp.CmdStartInstance{Config: []byte(`{"__seq__":1,"action":"panic"}`)}}}),
		call(&kpp.RpcCall{Sequence: 3, Call: &kpp.RpcCall_CmdHandleEvent{CmdHandleEvent: &kpp.CmdHandleEvent{InstanceId: 1, EventName: "access"}}})...))
	f.Add(call(&kpp.RpcCall{Sequence: 4, Call: &kpp.RpcCall_CmdCloseInstance{CmdCloseInstance: &kpp.CmdCloseInstance{InstanceId: 9}}}))
	released := make(chan struct{})
	close(released) // the "wait" action must not block a fuzz run
	c, err := compile(testPlugin(&observed{release: released}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		s := newServer(c, ServeOptions{Logger: quietLogger()})
		conn := &scriptedConn{in: bytes.NewReader(input)}
		bc := newBridgeConn(conn)
		s.conns[bc] = connIdle
		s.connDone.Add(1)
		s.serveConn(bc) // returns at the end of input at the latest
		if !conn.closed {
			t.Fatal("connection left open")
		}
		// Whatever was written must be well-formed frames.
		out := bytes.NewReader(conn.out.Bytes())
		for out.Len() > 0 {
			if _, err := ReadFrame(out, maxCallFrame); err != nil {
				t.Fatalf("malformed output: %v", err)
			}
		}
	})
}

// scriptedConn is a net.Conn reading a fixed input and recording output.
type scriptedConn struct {
	fakeAddrConn
	in     *bytes.Reader
	out    bytes.Buffer
	closed bool
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("closed")
	}
	n, err := c.in.Read(p)
	if err == io.EOF && n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *scriptedConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("closed")
	}
	return c.out.Write(p)
}

func (c *scriptedConn) Close() error { c.closed = true; return nil }
