package pluginservertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// BenchConfig is a plugin config whose Access handler makes Calls PDK
// calls (kong.request.get_header), the shape of a handler that reads a few
// request fields. Both our server and go-pdk's can run it, so benchmarks
// compare the servers, not the plugins.
type BenchConfig struct {
	Calls int `json:"calls"`
}

// Access makes the configured number of PDK calls.
func (c *BenchConfig) Access(kong *pdk.PDK) {
	for i := 0; i < c.Calls; i++ {
		if _, err := kong.Request.GetHeader("host"); err != nil {
			return
		}
	}
}

// BenchEvents drives b.N access events with pdkCalls PDK calls each over one
// pooled connection to the server at socket, as one Kong worker does.
func BenchEvents(b *testing.B, socket, plugin string, pdkCalls int) {
	b.Helper()
	var k *Kong
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if k, err = Dial(socket, 0); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	st, err := k.StartInstance(plugin, fmt.Sprintf(`{"calls":%d,"__seq__":%d}`, pdkCalls, 100+pdkCalls))
	if err != nil {
		b.Fatal(err)
	}
	host := &kpp.String{V: "api.example.test"}
	bridge := func(string, []byte) (proto.Message, bool) { return host, false }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		calls, err := k.HandleEvent(st.InstanceId, "access", bridge)
		if err != nil {
			b.Fatal(err)
		}
		if len(calls) != pdkCalls {
			b.Fatalf("got %d PDK calls, want %d", len(calls), pdkCalls)
		}
	}
}
