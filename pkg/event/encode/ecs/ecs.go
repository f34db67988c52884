// Package ecs encodes gatewatch events as Elastic Common Schema (ECS) 8.17
// documents, one JSON object per event, ready for an Elasticsearch index or
// an Elastic Agent/Filebeat Kafka input without an ingest pipeline.
//
// The guarantees: @timestamp, ecs.version and event.kind/category/type/
// outcome/action are always present; categorization values are from ECS's
// allowed values and every event.type is one ECS expects for one of the
// event.category values; every field outside the "gatewatch" namespace is an
// ECS field of the right type. Tests check this against ECS's own field
// definitions under testdata. The field mapping is in docs/siem.md.
package ecs

import (
	"errors"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/describe"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/jsonw"
)

// Name is the format's configuration name.
const Name = "ecs"

// Version is the ECS version the output conforms to (ecs.version).
const Version = "8.17.0"

// Encoder writes ECS JSON.
type Encoder struct {
	// ProductVersion is observer.version.
	ProductVersion string
}

// Name returns "ecs".
func (Encoder) Name() string { return Name }

// ContentType is JSON.
func (Encoder) ContentType() string { return "application/json" }

// Categorization is the ECS event.kind, event.category and event.type of
// one event.
type Categorization struct {
	Kind     string
	Category []string
	Type     []string
}

// The categorizations gatewatch uses, built once so that encoding does not
// allocate them per event.
var (
	catAuth          = Categorization{"event", []string{"authentication"}, []string{"start"}}
	catDenied        = Categorization{"event", []string{"api", "web"}, []string{"access", "denied"}}
	catAttackBlocked = Categorization{"alert", []string{"intrusion_detection", "web"}, []string{"denied", "access"}}
	catAttackLogged  = Categorization{"alert", []string{"intrusion_detection", "web"}, []string{"allowed", "access"}}
	catNotFound      = Categorization{"event", []string{"web"}, []string{"access", "error"}}
	catError         = Categorization{"event", []string{"web"}, []string{"error"}}
	catSlow          = Categorization{"event", []string{"web"}, []string{"access", "info"}}
	catConfigCreate  = Categorization{"event", []string{"configuration", "web"}, []string{"creation", "access"}}
	catConfigChange  = Categorization{"event", []string{"configuration", "web"}, []string{"change", "access"}}
	catConfigDelete  = Categorization{"event", []string{"configuration", "web"}, []string{"deletion", "access"}}
	catPipeline      = Categorization{Kind: "pipeline_error"}
	catAccess        = Categorization{"event", []string{"web"}, []string{"access"}}
)

// Categorize decides the ECS categorization of ev. Kong fronts APIs, so
// request-level denials are "api" (whose expected types include denied)
// alongside "web". The returned slices are shared: do not modify them.
func Categorize(ev *event.Event) Categorization {
	switch ev.Type {
	case event.AuthFailure:
		return catAuth
	case event.AccessDenied, event.RateLimited, event.RequestRejected:
		return catDenied
	case event.AttackDetected:
		if describe.Blocked(ev) {
			return catAttackBlocked
		}
		return catAttackLogged
	case event.RouteNotFound:
		return catNotFound
	case event.UpstreamError, event.GatewayError, event.KongError:
		return catError
	case event.LatencySlow:
		return catSlow
	case event.ConfigChange:
		switch ev.Request.Method {
		case "POST":
			return catConfigCreate
		case "DELETE":
			return catConfigDelete
		}
		return catConfigChange
	case event.Dropped:
		return catPipeline
	}
	return catAccess
}

var errNilEvent = errors.New("ecs: nil event")

// Append appends ev as one ECS document.
func (e Encoder) Append(dst []byte, ev *event.Event) ([]byte, error) {
	if ev == nil {
		return dst, errNilEvent
	}
	c := Categorize(ev)
	w := jsonw.New(dst)
	w.Open("")
	w.Time("@timestamp", ev.Time)
	w.Open("ecs")
	w.Str("version", Version)
	w.Close()
	w.Join("message", describe.Title(ev.Type), ": ", describe.Reason(ev))

	w.Open("event")
	w.Str("id", ev.ID)
	w.Str("kind", c.Kind)
	w.Strs("category", c.Category...)
	w.Strs("type", c.Type...)
	if describe.Failed(ev) {
		w.Str("outcome", "failure")
	} else {
		w.Str("outcome", "success")
	}
	w.Str("action", string(ev.Type))
	w.Int("severity", int64(ev.Severity.Rank()+1))
	w.Str("reason", describe.Reason(ev))
	w.Str("module", "gatewatch")
	w.Str("dataset", "gatewatch.events")
	w.Str("provider", "kong")
	if ev.Response.Latency.TotalMS > 0 {
		w.Int("duration", int64(ev.Response.Latency.TotalMS*1e6)) // nanoseconds
	}
	w.Close()

	w.Open("log")
	w.Str("level", string(ev.Severity))
	w.Close()

	w.Open("observer")
	w.Str("vendor", "gatewatch")
	w.Str("product", "gatewatch")
	w.Str("version", e.ProductVersion)
	w.Str("type", "api-gateway")
	w.Close()

	if ev.Request.Method != "" || ev.Request.ID != "" || ev.Response.Status != 0 {
		w.Open("http")
		if ev.Request.Method != "" || ev.Request.ID != "" {
			w.Open("request")
			w.Str("method", ev.Request.Method)
			w.Str("id", ev.Request.ID)
			w.Close()
		}
		if ev.Response.Status != 0 {
			w.Open("response")
			w.Int("status_code", int64(ev.Response.Status))
			w.Close()
		}
		w.Close()
	}
	if ev.Request.Path != "" || ev.Request.Host != "" {
		w.Open("url")
		w.Str("domain", ev.Request.Host)
		w.Str("path", ev.Request.Path)
		w.Str("query", ev.Request.Query)
		w.Close()
	}
	if ev.Client.IP != "" {
		w.Open("source")
		w.Str("ip", ev.Client.IP)
		w.Str("address", ev.Client.IP)
		w.Close()
	}
	writeUser(&w, ev)
	if ev.Client.UserAgent != "" {
		w.Open("user_agent")
		w.Str("original", ev.Client.UserAgent)
		w.Close()
	}
	if ev.Kong.Service.Name != "" || ev.Kong.Service.ID != "" {
		w.Open("service")
		w.Str("id", ev.Kong.Service.ID)
		w.Str("name", ev.Kong.Service.Name)
		w.Close()
	}
	writeRule(&w, ev)
	writeThreat(&w, ev)
	writeGatewatch(&w, ev)
	w.Close()
	return w.B, nil
}

// writeUser writes the authenticated consumer, or for a failed
// authentication the identity that was attempted.
func writeUser(w *jsonw.W, ev *event.Event) {
	c := ev.Client.Consumer
	id := ev.Detail.Identity
	if c.ID == "" && c.Username == "" && id == nil {
		return
	}
	w.Open("user")
	switch {
	case c.ID != "" || c.Username != "":
		w.Str("id", c.ID)
		w.Str("name", c.Username)
	case id.Kind == "username":
		w.Str("name", id.Value)
	default:
		w.Str("id", id.Kind+":"+id.Value)
	}
	w.Close()
}

func writeRule(w *jsonw.W, ev *event.Event) {
	top := describe.TopFinding(ev)
	if top < 0 {
		return
	}
	f := &ev.Detail.Findings[top]
	w.Open("rule")
	w.Str("id", f.RuleID)
	w.Str("category", f.Class)
	w.Str("ruleset", "gatewatch")
	w.Close()
}

func writeThreat(w *jsonw.W, ev *event.Event) {
	var techBuf [8]string
	techs := describe.Techniques(techBuf[:0], ev)
	if len(techs) == 0 {
		return
	}
	w.Open("threat")
	w.Str("framework", "MITRE ATT&CK")
	w.Open("technique")
	w.Strs("id", techs...)
	var refs [8]string
	r := refs[:0]
	for _, t := range techs {
		r = append(r, describe.AttackURL(t))
	}
	w.Strs("reference", r...)
	w.Close()
	w.Close()
}

// writeGatewatch keeps what ECS has no field for, in gatewatch's own
// namespace (ECS's advice for custom fields): the Kong context and the
// native type-specific detail.
func writeGatewatch(w *jsonw.W, ev *event.Event) {
	w.Open("gatewatch")
	w.Int("schema_version", int64(ev.SchemaVersion))
	w.Str("severity", string(ev.Severity))
	w.Open("kong")
	w.Str("node_id", ev.Kong.NodeID)
	w.Str("workspace", ev.Kong.Workspace)
	w.Str("route_id", ev.Kong.Route.ID)
	w.Str("route_name", ev.Kong.Route.Name)
	w.Str("response_source", ev.Response.Source)
	w.Float("latency_kong_ms", ev.Response.Latency.KongMS)
	w.Float("latency_upstream_ms", ev.Response.Latency.UpstreamMS)
	w.Float("latency_total_ms", ev.Response.Latency.TotalMS)
	w.Close()
	w.Detail("detail", &ev.Detail)
	w.Close()
}
