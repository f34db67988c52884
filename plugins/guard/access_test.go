package guard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/bridge/bridgetest"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/classify"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pluginservertest"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// fakeEngine stands in for the detection engine: it flags "OR 1=1" as a
// critical SQLi, "<script>" as a medium XSS and "boom" by panicking, in the
// query and the body.
type fakeEngine struct{}

func (fakeEngine) Rules() []string { return []string{"sqli-1", "xss-1"} }

func (fakeEngine) Detector(paranoia int, disabled []string) (Detector, error) {
	off := map[string]bool{}
	for _, id := range disabled {
		off[id] = true
	}
	return fakeDetector{off}, nil
}

type fakeDetector struct{ off map[string]bool }

func (d fakeDetector) Inspect(r *DetectRequest, dst []event.Finding) []event.Finding {
	for loc, v := range map[string]string{"query": r.RawQuery, "body": string(r.Body)} {
		if strings.Contains(v, "boom") {
			panic("detector bug")
		}
		if strings.Contains(v, "OR%201=1") || strings.Contains(v, "OR 1=1") {
			if !d.off["sqli-1"] {
				dst = append(dst, event.Finding{RuleID: "sqli-1", Class: "sqli", Severity: event.Critical, Location: loc + ":id", Fragment: "1' OR 1=1", CWE: "CWE-89"})
			}
		}
		if strings.Contains(v, "<script>") && !d.off["xss-1"] {
			dst = append(dst, event.Finding{RuleID: "xss-1", Class: "xss", Severity: event.Medium, Location: loc + ":q"})
		}
	}
	return dst
}

// kongReq is what the fake Kong answers about one request.
type kongReq struct {
	line     string
	headers  map[string][]string
	ip       string
	consumer string
	body     *kpp.RawBodyResult
}

// outcome is what the plugin did to the request.
type outcome struct {
	calls      []string
	annotation *classify.GuardAnnotation
	exit       *kpp.ExitArgs
	err        error
}

// runAccess starts an instance with config and runs one access event for
// r, answering PDK calls as Kong would and hanging up after exit, as Kong
// does (kong-reference §6.2).
func runAccess(t *testing.T, socket, config string, r kongReq) outcome {
	t.Helper()
	kong, err := pluginservertest.Dial(socket, 10*time.Second)
	require.NoError(t, err)
	defer kong.Close()
	st, err := kong.StartInstance(Name, config)
	require.NoError(t, err)
	var out outcome
	_, out.err = kong.HandleEvent(st.InstanceId, "access", func(method string, args []byte) (proto.Message, bool) {
		out.calls = append(out.calls, method)
		switch method {
		case "kong.nginx.get_var":
			var name kpp.String
			require.NoError(t, proto.Unmarshal(args, &name))
			switch name.V {
			case "request":
				return rawMessage(rawString(r.line)), false // byte for byte, as Kong sends it
			case "kong_request_id":
				return bridge.WrapString("4f1c2a"), false
			}
			t.Errorf("unexpected variable %q", name.V)
			return bridge.WrapString(""), false
		case "kong.request.get_headers":
			names := make([]string, 0, len(r.headers))
			for n := range r.headers {
				names = append(names, n)
			}
			sort.Strings(names)
			return rawMessage(rawHeaders(names, r.headers)), false
		case "kong.client.get_ip":
			return bridge.WrapString(r.ip), false
		case "kong.client.get_consumer":
			if r.consumer == "" {
				return nil, false // Kong's nil consumer encodes as nothing
			}
			return &kpp.Consumer{Id: r.consumer, Username: "mallory"}, false
		case "kong.request.get_raw_body":
			return r.body, false
		case "kong.log.set_serialize_value":
			var kv kpp.KV
			require.NoError(t, proto.Unmarshal(args, &kv))
			require.Equal(t, "gatewatch", kv.K)
			out.annotation = decodeAnnotation(t, kv.V)
			return nil, false
		case "kong.response.exit":
			out.exit = new(kpp.ExitArgs)
			require.NoError(t, proto.Unmarshal(args, out.exit))
			return nil, true // Kong never answers exit
		}
		t.Errorf("unexpected PDK call %s", method)
		return nil, false
	})
	return out
}

// rawMessage carries already-encoded bytes, which may hold invalid UTF-8
// that proto.Marshal would refuse in a typed message.
func rawMessage(raw []byte) proto.Message {
	m := &emptypb.Empty{}
	m.ProtoReflect().SetUnknown(raw)
	return m
}

// decodeAnnotation turns the value as Kong would serialize it (JSON) into
// the monitor's type, strictly, so an unknown or misspelt field fails.
func decodeAnnotation(t *testing.T, v *structpb.Value) *classify.GuardAnnotation {
	t.Helper()
	raw, err := protojson.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var a classify.GuardAnnotation
	require.NoError(t, dec.Decode(&a), "annotation %s", raw)
	return &a
}

func exitMessage(t *testing.T, e *kpp.ExitArgs) map[string]string {
	t.Helper()
	var body map[string]string
	require.NoError(t, json.Unmarshal(e.Body, &body), "exit body %q", e.Body)
	return body
}

func exitContentType(e *kpp.ExitArgs) []string {
	return bridge.UnwrapHeaders(e.Headers)["Content-Type"]
}

var benignHeaders = map[string][]string{"host": {"api.test"}, "accept": {"*/*"}, "user-agent": {"curl/8.5"}}

func TestAccessPDKCallsAndVerdicts(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	list := blocklist.NewList()
	rt := NewRuntime(fakeEngine{}, func() time.Time { return now })
	rt.SetBlocklist(list)
	socket, stats := serveRuntime(t, rt)

	entry := func(subject string, status int, msg string) blocklist.Change {
		kind, err := blocklist.KindOf(subject)
		require.NoError(t, err)
		return blocklist.Change{Subject: subject, Entry: blocklist.Entry{
			Subject: subject, Kind: kind, Until: now.Add(time.Hour), Reason: "credential stuffing",
			Source: "alert", Status: status, Message: msg,
		}}
	}
	sqli := "GET /users?id=1%27%20OR%201=1 HTTP/1.1"
	leakedFP := redact.New(nil, nil).Fingerprint("leaked-key") // the monitor's fingerprint, unkeyed
	xss := "GET /search?q=<script> HTTP/1.1"
	jsonPost := map[string][]string{"host": {"api.test"}, "content-type": {"application/json"}, "content-length": {"24"}}
	bodyFile := filepath.Join(t.TempDir(), "body")
	require.NoError(t, os.WriteFile(bodyFile, []byte(`{"id":"1' OR 1=1"}`+strings.Repeat(" ", 1000)+`<script>`), 0o600))

	cases := []struct {
		name      string
		config    string
		list      []blocklist.Change
		req       kongReq
		calls     []string
		action    string // "" when no annotation is expected
		control   string
		status    int32
		message   string
		findings  int
		panics    uint64
		bodyFault uint64
	}{
		{name: "a benign GET with an empty blocklist costs two PDK calls and nothing else",
			config: `{}`, req: kongReq{line: "GET /orders?limit=10 HTTP/1.1", headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "a SQLi on a monitor route is annotated as logged and goes on",
			config: `{}`, req: kongReq{line: sqli, headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value"},
			action: "logged", control: "gatewatch-guard", findings: 1},
		{name: "a SQLi on a block route is refused with the configured status, message and Kong's request id",
			config: `{"mode":"block","block_status":406,"block_message":"Nope"}`, req: kongReq{line: sqli, headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 406, message: "Nope", findings: 1},
		{name: "bytes that are not UTF-8 in the request line and a header do not make the guard skip the request",
			config: `{"mode":"block"}`, req: kongReq{line: "GET /\xff?id=1%27%20OR%201=1 HTTP/1.1", headers: map[string][]string{"user-agent": {"\xfe\xff"}}},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 403, message: "Request blocked", findings: 1},
		{name: "a finding below block_severity on a block route is only logged",
			config: `{"mode":"block","block_severity":"high"}`, req: kongReq{line: xss, headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value"},
			action: "logged", control: "gatewatch-guard", findings: 1},
		{name: "a finding at a lowered block_severity blocks with the default 403",
			config: `{"mode":"block","block_severity":"medium"}`, req: kongReq{line: xss, headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 403, message: "Request blocked", findings: 1},
		{name: "an excluded rule does not fire and an unknown excluded id is ignored",
			config: `{"mode":"block","exclude_rules":["sqli-1","no-such-rule"]}`, req: kongReq{line: sqli, headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "IP entries in the blocklist cost one more call, the client IP, when the IP does not match",
			config: `{}`, list: []blocklist.Change{entry("ip:203.0.113.7", 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders, ip: "198.51.100.1"},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.client.get_ip"}},
		{name: "a blocklisted IP is refused on a monitor route with the entry's status and message",
			config: `{}`, list: []blocklist.Change{entry("ip:203.0.113.7", 429, "Slow down")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders, ip: "203.0.113.7"},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.client.get_ip", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-blocklist", status: 429, message: "Slow down"},
		{name: "an IP inside a blocklisted CIDR is refused with the route's message when the entry has none",
			config: `{"block_message":"Go away"}`, list: []blocklist.Change{entry("cidr:203.0.113.0/24", 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders, ip: "203.0.113.99"},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.client.get_ip", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-blocklist", status: 403, message: "Go away"},
		{name: "consumer entries cost the consumer call and not the client IP",
			config: `{}`, list: []blocklist.Change{entry("consumer:c-1", 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.client.get_consumer"}},
		{name: "a blocklisted consumer is refused",
			config: `{}`, list: []blocklist.Change{entry("consumer:c-1", 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders, consumer: "c-1"},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.client.get_consumer", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-blocklist", status: 403, message: "Request blocked"},
		{name: "an API key whose fingerprint is blocklisted is refused without any extra PDK call",
			config: `{}`, list: []blocklist.Change{entry("apikey-fp:"+leakedFP, 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: map[string][]string{"apikey": {"leaked-key"}}},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-blocklist", status: 403, message: "Request blocked"},
		{name: "a blocklisted API key in the query under a configured key name is refused",
			config: `{"apikey_names":["X-Key"]}`, list: []blocklist.Change{entry("apikey-fp:"+leakedFP, 403, "")}, req: kongReq{line: "GET /?x-key=leaked%2Dkey HTTP/1.1", headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-blocklist", status: 403, message: "Request blocked"},
		{name: "another API key passes",
			config: `{}`, list: []blocklist.Change{entry("apikey-fp:"+leakedFP, 403, "")}, req: kongReq{line: "GET /?apikey=fresh-key HTTP/1.1", headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "a route with blocklist off does not read the client IP",
			config: `{"blocklist":false}`, list: []blocklist.Change{entry("ip:203.0.113.7", 403, "")}, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders, ip: "203.0.113.7"},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "body inspection reads the body of a POST and finds the attack in it",
			config: `{"mode":"block","inspect_body":true}`, req: kongReq{line: "POST /login HTTP/1.1", headers: jsonPost,
				body: &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_Content{Content: []byte(`{"id":"1' OR 1=1"}`)}}},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 403, message: "Request blocked", findings: 1},
		{name: "body inspection does not ask for the body of a GET",
			config: `{"inspect_body":true}`, req: kongReq{line: "GET / HTTP/1.1", headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "body inspection does not ask for an image upload",
			config: `{"inspect_body":true}`, req: kongReq{line: "POST /avatar HTTP/1.1", headers: map[string][]string{"content-type": {"image/png"}, "content-length": {"5000"}}},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}},
		{name: "a body buffered to a file is read only up to body_max_bytes",
			config: `{"inspect_body":true,"body_max_bytes":100}`, req: kongReq{line: "POST /login HTTP/1.1", headers: jsonPost,
				body: &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_BodyFilepath{BodyFilepath: bodyFile}}},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.set_serialize_value"},
			action: "logged", control: "gatewatch-guard", findings: 1}, // the <script> past byte 100 is not seen
		{name: "a body Kong cannot read is a counted fault and the request goes on",
			config: `{"inspect_body":true}`, req: kongReq{line: "POST /login HTTP/1.1", headers: jsonPost,
				body: &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_Error{Error: "Can't read request body"}}},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.request.get_raw_body"}, bodyFault: 1},
		{name: "a body Kong cannot read is refused with 503 on a fail_closed route",
			config: `{"inspect_body":true,"fail_closed":true}`, req: kongReq{line: "POST /login HTTP/1.1", headers: jsonPost,
				body: &kpp.RawBodyResult{Kind: &kpp.RawBodyResult_Error{Error: "Can't read request body"}}},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.request.get_raw_body", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 503, message: "Request could not be inspected", bodyFault: 1},
		{name: "a panic in detection lets the request through and is counted",
			config: `{"mode":"block"}`, req: kongReq{line: "GET /?x=boom HTTP/1.1", headers: benignHeaders},
			calls: []string{"kong.nginx.get_var", "kong.request.get_headers"}, panics: 1},
		{name: "a panic in detection is refused with 503 on a fail_closed route",
			config: `{"mode":"block","fail_closed":true}`, req: kongReq{line: "GET /?x=boom HTTP/1.1", headers: benignHeaders},
			calls:  []string{"kong.nginx.get_var", "kong.request.get_headers", "kong.log.set_serialize_value", "kong.nginx.get_var", "kong.response.exit"},
			action: "blocked", control: "gatewatch-guard", status: 503, message: "Request could not be inspected", panics: 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, list.Replace(nil))
			require.NoError(t, list.Apply(tc.list...))
			panics, bodyFaults := rt.Stats().FaultPanic.Load(), rt.Stats().FaultBody.Load()
			cfg := strings.Replace(tc.config, "{", fmt.Sprintf(`{"__seq__":%d,`, i+1), 1)
			cfg = strings.Replace(cfg, ",}", "}", 1)
			out := runAccess(t, socket, cfg, tc.req)

			assert.Equal(t, tc.calls, out.calls, "PDK calls in order")
			if tc.status != 0 {
				assert.ErrorIs(t, out.err, pluginservertest.ErrHungUp, "nothing is called after exit")
				require.NotNil(t, out.exit)
				assert.Equal(t, tc.status, out.exit.Status)
				assert.Equal(t, map[string]string{"message": tc.message, "request_id": "4f1c2a"}, exitMessage(t, out.exit))
				assert.Equal(t, []string{"application/json; charset=utf-8"}, exitContentType(out.exit))
			} else {
				assert.NoError(t, out.err, "the event ends normally: the request goes on")
				assert.Nil(t, out.exit)
			}
			if tc.action == "" {
				assert.Nil(t, out.annotation)
			} else {
				require.NotNil(t, out.annotation)
				assert.Equal(t, tc.action, out.annotation.Action)
				assert.Equal(t, tc.control, out.annotation.Control)
				assert.Len(t, out.annotation.Findings, tc.findings)
				if tc.control == "gatewatch-blocklist" {
					assert.Equal(t, "credential stuffing", out.annotation.Reason)
					assert.NotEmpty(t, out.annotation.Subject)
				}
			}
			assert.Equal(t, tc.panics, rt.Stats().FaultPanic.Load()-panics)
			assert.Equal(t, tc.bodyFault, rt.Stats().FaultBody.Load()-bodyFaults)
		})
	}
	assert.Zero(t, stats.Panics.Load(), "the guard's own recover kept panics away from the server")
}

// The annotation must decode as the monitor's classify.GuardAnnotation
// with every finding field intact.
func TestAnnotationRoundTripsToTheMonitorsType(t *testing.T) {
	cases := []struct {
		name string
		a    Annotation
	}{
		{"a blocked SQLi with every finding field", Annotation{Action: "blocked", Control: ControlGuard, Reason: "sqli",
			Findings: []event.Finding{{RuleID: "942100", Class: "sqli", Severity: event.Critical, Location: "query:id",
				Fragment: `1' OR "1"="1`, CWE: "CWE-89", Technique: "T1190"}}}},
		{"a logged request with two findings and no optional fields", Annotation{Action: "logged", Control: ControlGuard,
			Findings: []event.Finding{{RuleID: "a", Class: "xss", Severity: event.Low, Location: "path"}, {RuleID: "b", Class: "lfi", Severity: event.High, Location: "header:referer"}}}},
		{"a blocklist hit without findings", Annotation{Action: "blocked", Control: ControlBlocklist, Reason: "scanner", Subject: "cidr:203.0.113.0/24"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAnnotation(t, annotationValue(&tc.a))
			assert.Equal(t, tc.a, *got)
		})
	}
	t.Run("bytes that are not UTF-8 are replaced so the value always marshals", func(t *testing.T) {
		a := Annotation{Action: "logged", Findings: []event.Finding{{RuleID: "r", Class: "sqli", Severity: event.High, Location: "query:\xffid", Fragment: "\xfe'"}}}
		v := annotationValue(&a)
		_, err := proto.Marshal(v)
		require.NoError(t, err)
		got := decodeAnnotation(t, v)
		assert.Equal(t, "query:\uFFFDid", got.Findings[0].Location)
		assert.Equal(t, "\uFFFD'", got.Findings[0].Fragment)
	})
}

func TestCarriesBody(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		headers map[string][]string
		want    bool
	}{
		{"a JSON POST carries a body", "POST", map[string][]string{"content-type": {"application/json"}, "content-length": {"10"}}, true},
		{"a chunked PUT without a content type carries a body", "PUT", map[string][]string{"transfer-encoding": {"chunked"}}, true},
		{"a GET never does, even with a length", "GET", map[string][]string{"content-length": {"10"}}, false},
		{"a POST with length 0 does not", "POST", map[string][]string{"content-length": {"0"}}, false},
		{"a POST without length or chunking does not", "POST", map[string][]string{"content-type": {"application/json"}}, false},
		{"an image upload is not read", "POST", map[string][]string{"content-type": {"Image/PNG"}, "content-length": {"10"}}, false},
		{"a form PATCH carries a body", "PATCH", map[string][]string{"content-type": {"application/x-www-form-urlencoded"}, "content-length": {"3"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, carriesBody(tc.method, headerList(tc.headers)))
		})
	}
}

func TestExpiredBlocklistEntriesStopMatchingWithoutAMessage(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := now
	list := blocklist.NewList()
	rt := NewRuntime(nil, func() time.Time { return clock })
	rt.SetBlocklist(list)
	require.NoError(t, list.Apply(blocklist.Change{Subject: "ip:203.0.113.7", Entry: blocklist.Entry{
		Subject: "ip:203.0.113.7", Kind: blocklist.KindIP, Until: now.Add(2 * time.Minute), Status: 403}}))
	cfg := rt.New().(*Config)
	require.NoError(t, json.Unmarshal([]byte(`{"blocklist":true}`), cfg))
	require.NoError(t, cfg.Prepare())
	req := &Request{Line: RequestLine{Method: "GET", Path: "/"}}
	kong := ipOnlyKong(t, "203.0.113.7")

	_, hit, err := cfg.matchBlocklist(kong, pdkwire.NewReplies(), req)
	require.NoError(t, err)
	assert.True(t, hit, "within the TTL")
	clock = now.Add(2*time.Minute + time.Nanosecond)
	kong = ipOnlyKong(t, "203.0.113.7")
	_, hit, err = cfg.matchBlocklist(kong, pdkwire.NewReplies(), req)
	require.NoError(t, err)
	assert.False(t, hit, "past the TTL")
}

// ipOnlyKong is a scripted Kong that answers exactly one kong.client.get_ip.
func ipOnlyKong(t *testing.T, ip string) *pdk.PDK {
	return pdk.Init(bridgetest.Mock(t, []bridgetest.MockStep{
		{Method: "kong.client.get_ip", Ret: bridge.WrapString(ip)},
	}))
}

// headerList flattens a header map in name order.
func headerList(m map[string][]string) []Header {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []Header
	for _, k := range names {
		for _, v := range m[k] {
			out = append(out, Header{k, v})
		}
	}
	return out
}
