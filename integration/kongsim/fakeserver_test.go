package kongsim

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeServer is a plugin server written against the protocol directly, so
// tests can see every frame kongsim sends (sequence numbers, configs,
// connections) — things go-pdk hides.
type fakeServer struct {
	t    testing.TB
	ln   net.Listener
	name string

	// onEvent runs the plugin side of an event; it may ask PDK calls with
	// ask. Returning false ends the event without the end frame (as go-pdk
	// does after kong.response.exit).
	onEvent func(ask func(method string, args proto.Message) []byte, ev *pb.CmdHandleEvent) bool

	// failStart closes the connection on CmdStartInstance, as go-pdk does
	// when it cannot decode the config.
	failStart bool

	mu        sync.Mutex
	conns     int
	calls     []*pb.RpcCall
	configs   [][]byte
	instances map[int32]bool
}

// dumpFor returns a query command printing a dump for name.
func dumpCmd(t testing.TB, dir, name string, priority int, phases []string, configFields string) string {
	dump := map[string]any{
		"Protocol": "ProtoBuf:1",
		"Plugins": []any{map[string]any{
			"Name": name, "Priority": priority, "Version": "1.0.0", "Phases": phases,
			"Schema": json.RawMessage(`{"name":"` + name + `","fields":[{"config":{"type":"record","fields":[` + configFields + `]}}]}`),
		}},
	}
	b, err := json.Marshal(dump)
	require.NoError(t, err)
	path := filepath.Join(dir, name+".dump.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return "cat " + path
}

func startFakeServer(t testing.TB, socket, name string) *fakeServer {
	ln, err := net.Listen("unix", socket)
	require.NoError(t, err)
	f := &fakeServer{t: t, ln: ln, name: name, instances: map[int32]bool{}}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

func (f *fakeServer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
		go f.conn(c)
	}
}

func (f *fakeServer) conn(c net.Conn) {
	defer c.Close()
	for {
		frame, err := readFrame(c)
		if err != nil {
			return
		}
		var call pb.RpcCall
		if proto.Unmarshal(frame, &call) != nil {
			return
		}
		f.mu.Lock()
		f.calls = append(f.calls, &call)
		f.mu.Unlock()
		ret := &pb.RpcReturn{Sequence: call.Sequence}
		switch x := call.Call.(type) {
		case *pb.RpcCall_CmdStartInstance:
			f.mu.Lock()
			fail := f.failStart
			f.mu.Unlock()
			if fail {
				return
			}
			var meta struct {
				Seq int32 `json:"__seq__"`
			}
			if json.Unmarshal(x.CmdStartInstance.Config, &meta) != nil {
				return
			}
			f.mu.Lock()
			f.configs = append(f.configs, x.CmdStartInstance.Config)
			f.instances[meta.Seq] = true
			f.mu.Unlock()
			ret.Return = &pb.RpcReturn_InstanceStatus{InstanceStatus: &pb.InstanceStatus{Name: x.CmdStartInstance.Name, InstanceId: meta.Seq, StartedAt: 1700000000}}
		case *pb.RpcCall_CmdCloseInstance:
			f.mu.Lock()
			delete(f.instances, x.CmdCloseInstance.InstanceId)
			f.mu.Unlock()
			ret.Return = &pb.RpcReturn_InstanceStatus{InstanceStatus: &pb.InstanceStatus{Name: "---", InstanceId: x.CmdCloseInstance.InstanceId}}
		case *pb.RpcCall_CmdHandleEvent:
			f.mu.Lock()
			known := f.instances[x.CmdHandleEvent.InstanceId]
			f.mu.Unlock()
			if !known {
				return // as go-pdk: "no plugin instance", connection closed
			}
			ask := func(method string, args proto.Message) []byte {
				var a []byte
				if args != nil {
					a, _ = proto.Marshal(args)
				}
				if writeFrame(c, []byte(method)) != nil || writeFrame(c, a) != nil {
					return nil
				}
				out, _ := readFrame(c)
				return out
			}
			if f.onEvent != nil && !f.onEvent(ask, x.CmdHandleEvent) {
				return
			}
			if writeFrame(c, nil) != nil {
				return
			}
		}
		b, _ := proto.Marshal(ret)
		if writeFrame(c, b) != nil {
			return
		}
	}
}

func (f *fakeServer) snapshot() (conns int, calls []*pb.RpcCall, configs [][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns, append([]*pb.RpcCall(nil), f.calls...), append([][]byte(nil), f.configs...)
}

// forgetInstances simulates a restarted server that lost its instances.
func (f *fakeServer) forgetInstances() {
	f.mu.Lock()
	f.instances = map[int32]bool{}
	f.mu.Unlock()
}

func structpbBool(b bool) *structpb.Value      { return structpb.NewBoolValue(b) }
func structpbNull() *structpb.Value            { return structpb.NewNullValue() }
func structpbNumber(n float64) *structpb.Value { return structpb.NewNumberValue(n) }
