package classify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
)

// typicalEntry is a ~2 KB Kong 3.9 entry of an ordinary proxied request with
// a consumer, as cjson encodes it (escaped slashes included).
func typicalEntry() string {
	raw := entry("3.9", 200, func(m map[string]any) {
		proxied(m)
		r := m["request"].(map[string]any)
		r["uri"] = "/orders/12345/items?page=2&sort=created_at&fields=id,name,price"
		r["url"] = "https://api.example.com:8443/orders/12345/items?page=2&sort=created_at&fields=id,name,price"
		h := reqHeaders(m)
		h["accept"] = "application/json"
		h["accept-encoding"] = "gzip, deflate, br"
		h["accept-language"] = "en-GB,en;q=0.9"
		h["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
		h["x-request-id"] = "0d6f1c3e-5d54-4c1e-9a43-3d2b7f1e8c90"
		h["x-forwarded-for"] = "198.51.100.23"
		h["apikey"] = "alice-key"
		h["x-consumer-id"] = "9a2b3c4d-1111-2222-3333-444455556666"
		h["x-consumer-username"] = "alice"
		h["x-credential-identifier"] = "c1d2e3f4-aaaa-bbbb-cccc-ddddeeeeffff"
		rh := respHeaders(m)
		rh["content-length"] = "1834"
		rh["via"] = "1.1 kong/3.9.1"
		rh["x-kong-upstream-latency"] = "12"
		rh["x-kong-proxy-latency"] = "1"
		rh["x-kong-request-id"] = "4c2d7e0f9a1b4c3d8e7f6a5b4c3d2e1f"
		m["authenticated_entity"] = map[string]any{"id": "c1d2e3f4-aaaa-bbbb-cccc-ddddeeeeffff"}
		m["consumer"] = map[string]any{"id": "9a2b3c4d-1111-2222-3333-444455556666", "username": "alice", "created_at": 1700000000, "tags": []any{"tier-gold"}}
		m["route"] = map[string]any{"id": "5b1f7c9e-0000-4000-8000-000000000001", "name": "orders", "paths": []any{"/orders"},
			"protocols": []any{"http", "https"}, "strip_path": false, "preserve_host": false, "regex_priority": 0,
			"https_redirect_status_code": 426, "request_buffering": true, "response_buffering": true,
			"service": map[string]any{"id": "5b1f7c9e-0000-4000-8000-000000000002"}, "ws_id": "0dc6f45b-8f8d-40d2-a504-473544ee190b",
			"created_at": 1700000000, "updated_at": 1700000000}
		m["service"] = map[string]any{"id": "5b1f7c9e-0000-4000-8000-000000000002", "name": "shop", "host": "orders.internal", "port": 8080,
			"protocol": "http", "path": "/", "retries": 5, "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000,
			"enabled": true, "ws_id": "0dc6f45b-8f8d-40d2-a504-473544ee190b", "created_at": 1700000000, "updated_at": 1700000000}
	})
	// cjson escapes every '/'.
	out := make([]byte, 0, len(raw)+64)
	for _, c := range raw {
		if c == '/' {
			out = append(out, '\\')
		}
		out = append(out, c)
	}
	return string(out)
}

// BenchmarkDecodeClassifyBenign is the monitor's Go-side cost for an
// ordinary request without detection: decode the serialized entry, decide
// there is nothing to report.
func BenchmarkDecodeClassifyBenign(b *testing.B) {
	data := typicalEntry()
	c := New(Policy{}, event.NewIDGen())
	now := time.Now()
	var e kongentry.Entry
	var buf [4]event.Event
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := kongentry.DecodeString(data, &e); err != nil {
			b.Fatal(err)
		}
		evs := c.Classify(&Input{Entry: &e, Now: now}, buf[:0])
		if len(evs) != 0 {
			b.Fatal("benign request produced events")
		}
	}
}

// BenchmarkEncodingJSONMapBaseline is the naive baseline: the same entry
// into map[string]any.
func BenchmarkEncodingJSONMapBaseline(b *testing.B) {
	data := []byte(typicalEntry())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTypicalEntryIsAbout2KB(t *testing.T) {
	n := len(typicalEntry())
	if n < 1800 || n > 2600 {
		t.Fatalf("typical entry is %d bytes, want ~2 KB", n)
	}
}
