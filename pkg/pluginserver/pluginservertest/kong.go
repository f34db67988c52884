// Package pluginservertest plays Kong's side of the plugin-server protocol
// (kong-reference §2) over a real unix socket, for tests of plugin servers:
// frames, RpcCall sequence numbers checked on return like Kong does, the
// PDK bridge loop with a caller-supplied answer per PDK call, and the list
// of calls the plugin made (to assert PDK call budgets).
//
// It is deliberately small; the full emulator is integration/kongsim.
package pluginservertest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// Kong is one connection from Kong to a plugin server.
type Kong struct {
	conn net.Conn
	seq  int64
}

// Call is one PDK call the plugin made during an event.
type Call struct {
	Method string // e.g. kong.request.get_header
	Args   []byte // protobuf-encoded argument message
}

// Bridge answers a PDK call. A nil reply is sent as a zero-length frame
// (what Kong sends for nil and Empty results); hangUp makes Kong stop
// reading without replying, as after kong.response.exit.
type Bridge func(method string, args []byte) (reply proto.Message, hangUp bool)

// ErrHungUp is returned by HandleEvent when the Bridge hung up.
var ErrHungUp = errors.New("pluginservertest: Kong stopped reading")

// ErrSequence is returned when a reply does not echo the call's sequence.
var ErrSequence = errors.New("pluginservertest: sequence mismatch")

// Dial connects to a plugin server's socket. Every read and write on the
// connection must finish within timeout (0: no limit).
func Dial(socket string, timeout time.Duration) (*Kong, error) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			c.Close()
			return nil, err
		}
	}
	// Kong's counter starts at 0 and it sends counter+1 after incrementing,
	// so a fresh worker's first call carries 2 (kong-reference §2.3).
	return &Kong{conn: c, seq: 1}, nil
}

// Close drops the connection, as Kong does when a request ends.
func (k *Kong) Close() error { return k.conn.Close() }

// Conn is the underlying connection, for tests of misbehaving peers.
func (k *Kong) Conn() net.Conn { return k.conn }

// SendFrame writes one frame.
func (k *Kong) SendFrame(data []byte) error {
	buf := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(data)), uint32(len(data)))
	_, err := k.conn.Write(append(buf, data...))
	return err
}

// ReadFrame reads one frame.
func (k *Kong) ReadFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(k.conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("pluginservertest: frame of %d bytes", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(k.conn, data); err != nil {
		return nil, err
	}
	return data, nil
}

// Call sends c with the next sequence number and reads the RpcReturn.
func (k *Kong) Call(c *kpp.RpcCall) (*kpp.RpcReturn, error) {
	if err := k.send(c); err != nil {
		return nil, err
	}
	return k.readReturn()
}

func (k *Kong) send(c *kpp.RpcCall) error {
	k.seq++
	c.Sequence = k.seq
	data, err := proto.Marshal(c)
	if err != nil {
		return err
	}
	return k.SendFrame(data)
}

func (k *Kong) readReturn() (*kpp.RpcReturn, error) {
	data, err := k.ReadFrame()
	if err != nil {
		return nil, err
	}
	var ret kpp.RpcReturn
	if err := proto.Unmarshal(data, &ret); err != nil {
		return nil, fmt.Errorf("pluginservertest: decoding RpcReturn: %w", err)
	}
	if ret.Sequence != k.seq {
		return nil, fmt.Errorf("%w: sent %d, got %d", ErrSequence, k.seq, ret.Sequence)
	}
	return &ret, nil
}

// StartInstance sends CmdStartInstance with config (the JSON Kong sends,
// including __seq__ and friends) and returns the instance status.
func (k *Kong) StartInstance(name, config string) (*kpp.InstanceStatus, error) {
	ret, err := k.Call(&kpp.RpcCall{Call: &kpp.RpcCall_CmdStartInstance{
		CmdStartInstance: &kpp.CmdStartInstance{Name: name, Config: []byte(config)},
	}})
	if err != nil {
		return nil, err
	}
	return ret.GetInstanceStatus(), nil
}

// CloseInstance sends CmdCloseInstance.
func (k *Kong) CloseInstance(id int32) (*kpp.InstanceStatus, error) {
	ret, err := k.Call(&kpp.RpcCall{Call: &kpp.RpcCall_CmdCloseInstance{
		CmdCloseInstance: &kpp.CmdCloseInstance{InstanceId: id},
	}})
	if err != nil {
		return nil, err
	}
	return ret.GetInstanceStatus(), nil
}

// HandleEvent sends CmdHandleEvent and runs the bridge loop until the
// plugin's empty end frame, then reads the RpcReturn. It returns the PDK
// calls made and the first error: io.EOF when the plugin closed the
// connection, ErrHungUp when bridge hung up.
func (k *Kong) HandleEvent(id int32, event string, bridge Bridge) ([]Call, error) {
	err := k.send(&kpp.RpcCall{Call: &kpp.RpcCall_CmdHandleEvent{
		CmdHandleEvent: &kpp.CmdHandleEvent{InstanceId: id, EventName: event},
	}})
	if err != nil {
		return nil, err
	}
	var calls []Call
	for {
		method, err := k.ReadFrame()
		if err != nil {
			return calls, err
		}
		if len(method) == 0 {
			break
		}
		args, err := k.ReadFrame()
		if err != nil {
			return calls, err
		}
		calls = append(calls, Call{Method: string(method), Args: args})
		var out []byte
		if bridge != nil {
			reply, hangUp := bridge(string(method), args)
			if hangUp {
				return calls, ErrHungUp
			}
			if reply != nil {
				if out, err = proto.Marshal(reply); err != nil {
					return calls, err
				}
			}
		}
		if err := k.SendFrame(out); err != nil {
			return calls, err
		}
	}
	_, err = k.readReturn()
	return calls, err
}
