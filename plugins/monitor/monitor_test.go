package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gatewatch/gatewatch/internal/jsonschema"
	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/pluginserver"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
	"github.com/gatewatch/gatewatch/pkg/publish"
)

type fakePublisher struct {
	mu   sync.Mutex
	msgs []publish.Message
}

func (f *fakePublisher) Enqueue(m publish.Message) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	return true
}

func (f *fakePublisher) all() []publish.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publish.Message(nil), f.msgs...)
}

// Entries as Kong 3.4 (no source) and 3.9 serialize them.
const (
	benign39 = `{"request":{"id":"aa","uri":"\/orders\/1","url":"http:\/\/x:8000\/orders\/1","method":"GET","headers":{"host":"x:8000","user-agent":"curl\/8"},"size":80},"upstream_uri":"\/orders\/1","upstream_status":"200","response":{"status":200,"headers":{},"size":100},"latencies":{"kong":1,"proxy":2,"request":3},"tries":[{"ip":"127.0.0.1","port":9000}],"route":{"id":"r1","name":"orders"},"service":{"id":"s1","name":"shop"},"client_ip":"198.51.100.7","started_at":1764000000000,"source":"upstream"}`
	denied34 = `{"request":{"uri":"\/orders?apikey=sekrit-value","url":"http:\/\/x:8000\/orders","method":"GET","headers":{"host":"x:8000","apikey":"sekrit-value"},"size":80},"upstream_uri":"\/orders","upstream_status":"","response":{"status":401,"headers":{"www-authenticate":"Key","x-kong-request-id":"bb"},"size":100},"latencies":{"kong":1,"proxy":-1,"request":1},"tries":[],"route":{"id":"r1","name":"orders"},"service":{"id":"s1","name":"shop"},"client_ip":"198.51.100.7","started_at":1764000000000}`
)

// serve runs the monitor on a real socket with the plugin-server runtime,
// the way Kong would reach it.
func serve(t *testing.T, rt *Runtime) *pluginservertest.Kong {
	t.Helper()
	dir, err := mkShortDir(t) // unix socket paths must stay under 108 bytes
	require.NoError(t, err)
	sock := filepath.Join(dir, "gatewatch.socket")
	l, err := pluginserver.Listen(sock)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pluginserver.Serve(ctx, l, pluginserver.Plugin{Name: Name, Version: Version, Priority: Priority, New: New(rt)}, pluginserver.ServeOptions{})
	}()
	t.Cleanup(func() { cancel(); <-done })
	k, err := pluginservertest.Dial(sock, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func mkShortDir(t *testing.T) (string, error) {
	dir := filepath.Join("/tmp", fmt.Sprintf("gwm%d", time.Now().UnixNano()%1e9))
	t.Cleanup(func() { _ = removeAll(dir) })
	return dir, mkdir(dir)
}

// kongBridge answers the PDK calls a log handler may make.
func kongBridge(entry, source string) pluginservertest.Bridge {
	return func(method string, args []byte) (proto.Message, bool) {
		switch method {
		case "kong.log.serialize":
			return &kpp.String{V: entry}, false
		case "kong.response.get_source":
			return &kpp.String{V: source}, false
		case "kong.node.get_id":
			return &kpp.String{V: "node-7"}, false
		}
		return nil, false
	}
}

func methods(calls []pluginservertest.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Method
	}
	return out
}

func TestLogHandlerPDKCallsAndEvents(t *testing.T) {
	pub := &fakePublisher{}
	rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "gatewatch.events", FingerprintKey: []byte("k")}
	k := serve(t, rt)
	conf := `{"events":["auth.failure","access.denied"],"apikey_names":["apikey"],"detect":false,"paranoia":1,"__seq__":1}`
	st, err := k.StartInstance(Name, conf)
	require.NoError(t, err)

	t.Run("a benign request costs exactly one PDK call and no event", func(t *testing.T) {
		calls, err := k.HandleEvent(st.InstanceId, "log", kongBridge(benign39, ""))
		require.NoError(t, err)
		assert.Equal(t, []string{"kong.log.serialize"}, methods(calls))
		assert.Empty(t, pub.all())
	})
	t.Run("an error on Kong 3.4 asks for the source, and the node id once", func(t *testing.T) {
		calls, err := k.HandleEvent(st.InstanceId, "log", kongBridge(denied34, "exit"))
		require.NoError(t, err)
		assert.Equal(t, []string{"kong.log.serialize", "kong.response.get_source", "kong.node.get_id"}, methods(calls))
		calls, err = k.HandleEvent(st.InstanceId, "log", kongBridge(denied34, "exit"))
		require.NoError(t, err)
		assert.Equal(t, []string{"kong.log.serialize", "kong.response.get_source"}, methods(calls), "the node id is cached")

		msgs := pub.all()
		require.Len(t, msgs, 2)
		m := msgs[0]
		assert.Equal(t, "gatewatch.events", m.Topic)
		assert.Equal(t, []byte("198.51.100.7"), m.Key)
		assert.NotContains(t, string(m.Value), "sekrit-value")
		var ev event.Event
		require.NoError(t, json.Unmarshal(m.Value, &ev))
		assert.Equal(t, m.ID, ev.ID)
		assert.Equal(t, event.AuthFailure, ev.Type)
		assert.Equal(t, "node-7", ev.Kong.NodeID)
		assert.Equal(t, "bb", ev.Request.ID, "Kong 3.4's request id comes from X-Kong-Request-Id")
		assert.Equal(t, "key-auth", ev.Detail.Mechanism)
		assert.Equal(t, "kong", ev.Response.Source)
		schema, err := jsonschema.Parse(mustRead(t, "../../docs/event.schema.json"))
		require.NoError(t, err)
		assert.Empty(t, schema.Validate(m.Value))
		hdr := map[string]string{}
		for _, h := range m.Headers {
			hdr[h.Key] = string(h.Value)
		}
		assert.Equal(t, "auth.failure", hdr["ce_type"])
		assert.Equal(t, ev.ID, hdr["ce_id"])
	})
	t.Run("an undecodable entry is logged through kong.log.err, not a crash", func(t *testing.T) {
		calls, err := k.HandleEvent(st.InstanceId, "log", kongBridge(`{"request":`, ""))
		require.NoError(t, err)
		assert.Equal(t, []string{"kong.log.serialize", "kong.log.err"}, methods(calls))
	})
}

func TestRouteTopicOverride(t *testing.T) {
	pub := &fakePublisher{}
	rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "gatewatch.events"}
	c := New(rt)().(*Config)
	require.NoError(t, json.Unmarshal([]byte(`{"topic":"team-a.security","apikey_names":["apikey"]}`), c))
	c.process(denied34, fakeKong{source: "exit"})
	require.Len(t, pub.all(), 1)
	assert.Equal(t, "team-a.security", pub.all()[0].Topic)
}

func TestRouteFormatSelectsTheEncoder(t *testing.T) {
	for _, format := range []string{"ocsf", "ecs", "cef"} {
		t.Run(format, func(t *testing.T) {
			pub := &fakePublisher{}
			rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "gatewatch.events"}
			c := New(rt)().(*Config)
			require.NoError(t, json.Unmarshal([]byte(`{"format":"`+format+`","apikey_names":["apikey"]}`), c))
			require.NoError(t, c.Prepare())
			c.process(denied34, fakeKong{source: "exit"})
			msgs := pub.all()
			require.Len(t, msgs, 1)
			assert.NotContains(t, string(msgs[0].Value), "sekrit-value")
			var ct string
			for _, h := range msgs[0].Headers {
				if h.Key == "content-type" {
					ct = string(h.Value)
				}
			}
			if format == "cef" {
				assert.True(t, strings.HasPrefix(string(msgs[0].Value), "CEF:0|"), "%s", msgs[0].Value)
			} else {
				assert.True(t, json.Valid(msgs[0].Value))
				assert.Contains(t, string(msgs[0].Value), `"auth`, "the %s document describes the auth failure", format)
			}
			assert.NotEmpty(t, ct)
		})
	}
	c := New(&Runtime{})().(*Config)
	c.Format = "xml"
	assert.ErrorContains(t, c.Prepare(), "config.format")
}

type fakeKong struct{ source string }

func (f fakeKong) Source() (string, error) { return f.source, nil }
func (f fakeKong) NodeID() (string, error) { return "node-1", nil }
func (f fakeKong) LogErr(string)           {}

// BenchmarkProcessTypical2KB is the monitor's Go-side cost per benign log
// entry (issue 5's figure): decode a typical 2 KB Kong 3.9 entry,
// classify it, run detection over path, query and headers, nothing to
// enqueue. The "nodetect" variant isolates decode + classify.
func BenchmarkProcessTypical2KB(b *testing.B) {
	raw := string(mustRead(b, "testdata/typical-2kb.json"))
	engine, err := detect.New(nil)
	require.NoError(b, err)
	// The detection engine remembers header values in which no rule matched
	// (most repeat: user agents, consumer ids). An X-Request-Id never does:
	// "detect-unique-id" rewrites it on every iteration, as a gateway's
	// traffic would, so that header is inspected each time.
	idAt := strings.Index(raw, "0d6f1c3e-5d54-4c1e-9a43-3d2b7f1e8c90")
	require.Positive(b, idAt)
	for _, tc := range []struct {
		name     string
		detect   bool
		uniqueID bool
	}{{"detect", true, false}, {"detect-unique-id", true, true}, {"nodetect", false, false}} {
		b.Run(tc.name, func(b *testing.B) {
			rt := &Runtime{Publisher: &fakePublisher{}, IDs: event.NewIDGen(), Topic: "t", Engine: engine}
			c := New(rt)().(*Config)
			c.APIKeyNames, c.Detect, c.Paranoia = []string{"apikey"}, tc.detect, 1
			buf := []byte(raw)
			entry := unsafe.String(&buf[0], len(buf)) // rewritten in place below
			c.process(entry, fakeKong{})
			require.Empty(b, rt.Publisher.(*fakePublisher).all(), "the typical entry is benign")
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			n := uint64(0)
			for b.Loop() {
				if tc.uniqueID {
					n++
					const hex = "0123456789abcdef"
					for i, v := 0, n; i < 8; i, v = i+1, v>>4 {
						buf[idAt+i] = hex[v&15]
					}
				}
				c.process(entry, fakeKong{})
			}
		})
	}
}

// BenchmarkEncodingJSONMapBaseline is issue 5's naive baseline, quoted next
// to BenchmarkProcessTypical2KB: the same entry decoded by encoding/json into
// map[string]any, with nothing classified or detected.
func BenchmarkEncodingJSONMapBaseline(b *testing.B) {
	raw := mustRead(b, "testdata/typical-2kb.json")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessAuthFailure adds building, encoding and enqueueing one
// event.
func BenchmarkProcessAuthFailure(b *testing.B) {
	pub := &discardPublisher{}
	rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "t"}
	c := New(rt)().(*Config)
	require.NoError(b, json.Unmarshal([]byte(`{"apikey_names":["apikey"],"detect":true,"paranoia":1}`), c))
	b.ReportAllocs()
	for b.Loop() {
		c.process(denied34, fakeKong{source: "exit"})
	}
}

type discardPublisher struct{}

func (discardPublisher) Enqueue(publish.Message) bool { return true }
