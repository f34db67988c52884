package guard

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
)

// scriptedConn is Kong's side of the PDK bridge in memory: every PDK call
// gets a pre-encoded reply at once, so a benchmark over it measures the
// guard's Go-side work per request (go-pdk's encoding and decoding, the
// request view, blocklist matching, detection) without the socket, whose
// cost is the plugin server's and Kong's.
type scriptedConn struct {
	net.Conn // nil: only Read, Write and Close are used
	in       []byte
	out      []byte
	off      int // read position in out
	frames   [2][]byte
	n        int
	key      []byte
	replies  map[string][]byte // by method name + "\x00" + encoded args
	byMethod bool              // replies are by method name alone, whatever the args
	calls    int
}

func replyKey(method string, args proto.Message) string {
	b, err := proto.Marshal(args)
	if err != nil {
		panic(err)
	}
	return method + "\x00" + string(b)
}

func (c *scriptedConn) Write(p []byte) (int, error) {
	c.in = append(c.in, p...)
	pos := 0
	for len(c.in)-pos >= 4 {
		n := int(binary.LittleEndian.Uint32(c.in[pos:]))
		if len(c.in)-pos < 4+n {
			break
		}
		// Frames are copied out: the input buffer is reused between
		// writes, and go-pdk writes the method and the args separately.
		c.frames[c.n] = append(c.frames[c.n][:0], c.in[pos+4:pos+4+n]...)
		c.n++
		pos += 4 + n
		if c.n == 2 {
			c.reply()
			c.n = 0
		}
	}
	if pos == len(c.in) {
		c.in = c.in[:0]
	}
	return len(p), nil
}

func (c *scriptedConn) reply() {
	c.calls++
	c.key = append(append(c.key[:0], c.frames[0]...), 0)
	if !c.byMethod {
		c.key = append(c.key, c.frames[1]...)
	}
	r, ok := c.replies[string(c.key)]
	if !ok {
		panic(fmt.Sprintf("scriptedConn: no reply for %q", c.key))
	}
	if c.off == len(c.out) {
		c.out, c.off = c.out[:0], 0
	}
	c.out = binary.LittleEndian.AppendUint32(c.out, uint32(len(r)))
	c.out = append(c.out, r...)
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

func (c *scriptedConn) Close() error { return nil }

func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// browserHeaders is what a browser-like client sends: 12 headers, ~700 B.
var browserHeaders = map[string][]string{
	"host":            {"api.example.test"},
	"user-agent":      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
	"accept":          {"application/json, text/plain, */*"},
	"accept-language": {"en-GB,en;q=0.9"},
	"accept-encoding": {"gzip, deflate, br"},
	"referer":         {"https://app.example.test/orders?page=2"},
	"cookie":          {"session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark; consent=yes"},
	"authorization":   {"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"},
	"x-request-id":    {"2c4f9a1e-6b3d-4e8f-9a7c-1d2e3f4a5b6c"},
	"connection":      {"keep-alive"},
	"sec-fetch-mode":  {"cors"},
	"x-forwarded-for": {"198.51.100.23"},
}

func benchReplies(tb testing.TB, line string, headers map[string][]string, body []byte) map[string][]byte {
	h, err := bridge.WrapHeaders(headers)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string][]byte{
		replyKey("kong.nginx.get_var", bridge.WrapString("request")):         mustMarshal(tb, bridge.WrapString(line)),
		replyKey("kong.nginx.get_var", bridge.WrapString("kong_request_id")): mustMarshal(tb, bridge.WrapString("4f1c2a")),
		replyKey("kong.request.get_headers", &kpp.Int{V: 1000}):              mustMarshal(tb, h),
		"kong.client.get_ip\x00":        mustMarshal(tb, bridge.WrapString("198.51.100.23")),
		"kong.request.get_raw_body\x00": mustMarshal(tb, &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_Content{Content: body}}),
	}
}

// BenchmarkAccessGoSide is the guard's Go-side CPU per request with the
// real detection engine: a benign GET (the budget: ≤ 10 µs), the same with
// 100 000 IP entries in the blocklist (one more PDK call, one lookup), and
// a benign 1 KB JSON POST with body inspection on.
func BenchmarkAccessGoSide(b *testing.B) {
	engine, err := NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"customer":{"id":4711,"name":"Ada Lovelace","email":"ada@example.test","address":{"street":"12 Analytical Row","city":"London","postcode":"NW1 6XE"}},` +
		`"items":[{"sku":"BK-1843","title":"Notes on the Analytical Engine","qty":1,"price":42.5},{"sku":"PN-0001","title":"Fountain pen, fine nib","qty":2,"price":18.0}],` +
		`"notes":"Please leave the parcel with the concierge if nobody answers; the door code changes on Mondays.","coupon":"AUTUMN-10","currency":"GBP","gift":false}`)
	body = append(body, []byte(strings.Repeat(" ", 1024-len(body)%1024))...)
	postHeaders := map[string][]string{}
	for k, v := range browserHeaders {
		postHeaders[k] = v
	}
	postHeaders["content-type"] = []string{"application/json"}
	postHeaders["content-length"] = []string{fmt.Sprint(len(body))}

	big := blocklist.NewList()
	changes := make([]blocklist.Change, 0, 100000)
	for i := 0; i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s := "ip:" + a.String()
		changes = append(changes, blocklist.Change{Subject: s, Entry: blocklist.Entry{Subject: s, Kind: blocklist.KindIP, Until: time.Now().Add(time.Hour), Status: 403}})
	}
	if err := big.Apply(changes...); err != nil {
		b.Fatal(err)
	}

	const benignGET = "GET /api/v1/orders/4711/items?limit=20&offset=40&sort=-created_at HTTP/1.1"
	cases := []struct {
		name     string
		config   string
		list     *blocklist.List
		line     string
		headers  map[string][]string
		calls    int
		noEngine bool
	}{
		{"benign GET, empty blocklist, detection off (the guard's own cost)", `{}`, nil, benignGET, browserHeaders, 2, true},
		{"benign GET, empty blocklist", `{}`, nil, benignGET, browserHeaders, 2, false},
		{"benign GET, 100k IPs in the blocklist", `{}`, big, benignGET, browserHeaders, 3, false},
		{"benign 1 KB JSON POST, body inspection", `{"inspect_body":true}`, nil, "POST /api/v1/orders HTTP/1.1", postHeaders, 3, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var e Engine = engine
			if tc.noEngine {
				e = nil
			}
			rt := NewRuntime(e, nil)
			rt.SetBlocklist(tc.list)
			cfg := rt.New().(*Config)
			if err := json.Unmarshal([]byte(tc.config), cfg); err != nil {
				b.Fatal(err)
			}
			completeDefaults(cfg)
			if err := cfg.Prepare(); err != nil {
				b.Fatal(err)
			}
			conn := &scriptedConn{replies: benchReplies(b, tc.line, tc.headers, body)}
			kong := pdk.Init(conn)
			cfg.Access(kong) // warm the pools
			if conn.calls != tc.calls {
				b.Fatalf("%d PDK calls, want %d", conn.calls, tc.calls)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				cfg.Access(kong)
			}
			// On a shared machine wall time per op includes waiting for a
			// core; the process's CPU time per op is the cost itself.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			if got := conn.calls / (b.N + 1); got != tc.calls {
				b.Fatalf("%d PDK calls per request, want %d", got, tc.calls)
			}
			if n := rt.Stats().Logged.Load() + rt.Stats().Blocked.Load(); n != 0 {
				b.Fatalf("the benign request had findings (%d)", n)
			}
		})
	}
}

// completeDefaults fills what the schema's defaults give an instance
// started by Kong.
func completeDefaults(c *Config) {
	if c.Mode == "" {
		c.Mode = "monitor"
	}
	if c.BlockSeverity == "" {
		c.BlockSeverity = "high"
	}
	if c.MaxHeaders == 0 {
		c.MaxHeaders = 1000
	}
	if c.BodyMaxBytes == 0 {
		c.BodyMaxBytes = 65536
	}
	c.Blocklist = true
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
