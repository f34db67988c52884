package guard

import (
	"encoding/json"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/Kong/go-pdk"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatewatch/gatewatch/pkg/blocklist"
	"github.com/gatewatch/gatewatch/pkg/classify"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
)

// Annotation is the verdict handed to the log phase under the serializer
// key "gatewatch"; its shape is the monitor's contract.
type Annotation = classify.GuardAnnotation

// Actions in an annotation.
const (
	ActionBlocked = "blocked"
	ActionLogged  = "logged"
)

// verdict is what detection decided about one request.
type verdict struct {
	Findings []event.Finding
	Blocked  bool
	top      int // index of the most severe finding
}

// evaluate runs detection. It is the guard's own code between the PDK
// reads and writes, so a panic here is recovered on the spot, while the
// bridge is at a frame boundary: the caller can still let the request
// through or refuse it cleanly. ok is false after a panic.
func (c *Config) evaluate(req *Request, body []byte) (v verdict, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			v, ok = verdict{}, false
		}
	}()
	if c.detector == nil {
		return v, true
	}
	dr := DetectRequest{
		Method: req.Line.Method, Path: req.Line.Path, RawQuery: req.Line.RawQuery,
		Headers: req.Headers, Body: body, ContentType: req.header("content-type"),
	}
	v.Findings = c.detector.Inspect(&dr, nil)
	max := -1
	for i := range v.Findings {
		if r := v.Findings[i].Severity.Rank(); r > max {
			max, v.top = r, i
		}
	}
	v.Blocked = len(v.Findings) > 0 && max >= c.blockAt
	return v, true
}

func (v *verdict) annotation() *Annotation {
	a := &Annotation{Action: ActionLogged, Control: ControlGuard, Findings: v.Findings}
	if v.Blocked {
		a.Action = ActionBlocked
	}
	if len(v.Findings) > 0 {
		a.Reason = v.Findings[v.top].Class
	}
	return a
}

func blocklistAnnotation(e *blocklist.Entry) *Annotation {
	return &Annotation{Action: ActionBlocked, Control: ControlBlocklist, Reason: e.Reason, Subject: e.Subject}
}

func faultAnnotation(reason string) *Annotation {
	return &Annotation{Action: ActionBlocked, Control: ControlGuard, Reason: reason}
}

// matchBlocklist asks Kong for the client IP and the consumer only when
// the list holds entries that could match on them; an API key's
// fingerprint is computed only when it holds apikey-fp entries. The entry
// is the list's own: read it, never modify it.
func (c *Config) matchBlocklist(kong *pdk.PDK, rep *pdkwire.Replies, req *Request) (*blocklist.Entry, bool, error) {
	l := c.rt.list.Load()
	if l == nil {
		return nil, false, nil
	}
	m := l.Matcher()
	kinds := m.Kinds()
	if kinds == 0 {
		return nil, false, nil
	}
	var ip netip.Addr
	var consumer string
	if kinds.NeedsClientIP() {
		raw, err := rep.Ask(kong, "kong.client.get_ip", nil)
		if err != nil {
			return nil, false, err
		}
		s, err := pdkwire.DecodeString(raw)
		if err != nil {
			return nil, false, err
		}
		ip, _ = netip.ParseAddr(s) // unparsable: no IP entry can match
	}
	if kinds.NeedsConsumer() {
		cons, err := kong.Client.GetConsumer()
		if err != nil {
			return nil, false, err
		}
		consumer = cons.Id
	}
	var fp string
	if kinds.NeedsAPIKeyFP() {
		if key := apiKey(req, c.APIKeyNames); key != "" {
			fp = c.rt.redactor.Load().Fingerprint(key)
		}
	}
	e, ok := m.Match(ip, consumer, fp, c.rt.now())
	return e, ok, nil
}

// annotate calls kong.log.set_serialize_value("gatewatch", a). go-pdk has
// no wrapper for it, so it goes through the PDK bridge with the KV message
// Kong expects (kong-reference §4). The value is a table in the log entry,
// which the monitor reads back as classify.GuardAnnotation.
func annotate(kong *pdk.PDK, a *Annotation) error {
	return kong.Log.Ask("kong.log.set_serialize_value", &kpp.KV{K: classify.GuardKey, V: annotationValue(a)}, nil)
}

// annotationValue builds the protobuf value directly: structpb.NewValue
// would go through reflection and map[string]any. Empty fields are left
// out, and so is an empty findings list, which Kong's cjson would encode
// as an object, not an array.
//
// Every string is made valid UTF-8 first: go-pdk marshals the arguments
// after it has already written the method frame, so a marshal error (Go's
// protobuf refuses invalid UTF-8) would leave Kong reading a broken
// stream. A location naming a parameter the attacker spelt in raw bytes
// must not do that.
func annotationValue(a *Annotation) *structpb.Value {
	f := make(map[string]*structpb.Value, 5)
	f["action"] = stringValue(a.Action)
	putString(f, "control", a.Control)
	putString(f, "reason", a.Reason)
	putString(f, "subject", a.Subject)
	if len(a.Findings) > 0 {
		list := make([]*structpb.Value, len(a.Findings))
		for i := range a.Findings {
			x := &a.Findings[i]
			ff := make(map[string]*structpb.Value, 7)
			ff["rule_id"] = stringValue(x.RuleID)
			ff["class"] = stringValue(x.Class)
			ff["severity"] = stringValue(string(x.Severity))
			ff["location"] = stringValue(x.Location)
			putString(ff, "fragment", x.Fragment)
			putString(ff, "cwe", x.CWE)
			putString(ff, "technique", x.Technique)
			list[i] = structpb.NewStructValue(&structpb.Struct{Fields: ff})
		}
		f["findings"] = structpb.NewListValue(&structpb.ListValue{Values: list})
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: f})
}

func putString(f map[string]*structpb.Value, k, v string) {
	if v != "" {
		f[k] = stringValue(v)
	}
}

func stringValue(s string) *structpb.Value {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return structpb.NewStringValue(s)
}

// requestID is Kong's request id ($kong_request_id, Kong 3.5+), or nginx's
// $request_id on older Kong, which has no kong_request_id variable. It is
// read only for refused requests.
func requestID(kong *pdk.PDK) (string, error) {
	id, err := kong.Nginx.GetVar("kong_request_id")
	if err != nil || id != "" {
		return id, err
	}
	return kong.Nginx.GetVar("request_id")
}

// jsonContentType goes with every refusal: Kong adds no Content-Type to a
// body that comes from Go (kong-reference §6.2).
var jsonContentType = map[string][]string{"Content-Type": {"application/json; charset=utf-8"}}

// exitBody is the JSON a refused client gets, shaped like Kong's own error
// template: the message and the request id to quote to support.
func exitBody(message, requestID string) []byte {
	b, err := json.Marshal(struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}{message, requestID})
	if err != nil { // strings always marshal; keep a valid body regardless
		return []byte(`{"message":"Request blocked"}`)
	}
	return b
}
