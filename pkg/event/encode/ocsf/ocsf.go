// Package ocsf encodes gatewatch events as Open Cybersecurity Schema
// Framework (OCSF) 1.8.0 events, one JSON object per event.
//
// Each event type maps to one OCSF class (docs/siem.md has the table):
// authentication failures to Authentication (3002), ACL/IP denials to Web
// Resource Access Activity (6004), attacks to Detection Finding (2004),
// Kong's error log and gatewatch's own drops to Application Error (6008),
// and every other request-level event to HTTP Activity (4002). The
// guarantees: class_uid, category_uid, activity_id and type_uid are
// consistent (type_uid = class_uid*100 + activity_id), every attribute the
// class requires is present, every enumerated id is one the schema defines
// with its caption beside it, and what OCSF has no place for (the Kong
// route, service, workspace, node and type-specific detail) goes under
// "unmapped" rather than being lost. Tests check all of this against the
// schema files under testdata.
package ocsf

import (
	"strconv"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/describe"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/jsonw"
)

// Name is the format's configuration name.
const Name = "ocsf"

// SchemaVersion is the OCSF version the output conforms to
// (metadata.version).
const SchemaVersion = "1.8.0"

// Encoder writes OCSF JSON.
type Encoder struct {
	// ProductVersion is metadata.product.version.
	ProductVersion string
}

// Name returns "ocsf".
func (Encoder) Name() string { return Name }

// ContentType is JSON.
func (Encoder) ContentType() string { return "application/json" }

// Append appends ev as one OCSF event object.
func (e Encoder) Append(dst []byte, ev *event.Event) ([]byte, error) {
	if ev == nil {
		return dst, errNilEvent
	}
	c := ClassOf(ev.Type)
	act, actName := activity(c, ev)
	w := jsonw.New(dst)
	w.Open("")
	w.Int("class_uid", int64(c.UID))
	w.Str("class_name", c.Name)
	w.Int("category_uid", int64(c.CategoryUID))
	w.Str("category_name", c.CategoryName)
	w.Int("activity_id", int64(act))
	w.Str("activity_name", actName)
	w.Int("type_uid", int64(c.UID*100+act))
	w.B = append(w.B, `,"type_name":"`...)
	w.B = append(w.B, c.Name...)
	w.B = append(w.B, ": "...)
	w.B = append(w.B, actName...)
	w.B = append(w.B, '"')
	sev := SeverityID(ev.Severity)
	w.Int("severity_id", int64(sev))
	w.Str("severity", severityCaptions[sev])
	w.Int("time", ev.Time.UnixMilli())
	w.Join("message", describe.Title(ev.Type), ": ", describe.Reason(ev))

	switch {
	case c == DetectionFinding:
		// A finding's status is its triage state, and a new one is New.
		w.Int("status_id", 1)
		w.Str("status", "New")
	case describe.Failed(ev):
		w.Int("status_id", 2)
		w.Str("status", "Failure")
	default:
		w.Int("status_id", 1)
		w.Str("status", "Success")
	}
	if ev.Response.Status != 0 {
		w.Str("status_code", strconv.Itoa(ev.Response.Status))
	}
	w.Str("status_detail", describe.Reason(ev))
	if a, an, d, dn := disposition(ev); a != 0 {
		w.Int("action_id", int64(a))
		w.Str("action", an)
		w.Int("disposition_id", int64(d))
		w.Str("disposition", dn)
	}
	if ev.Response.Latency.TotalMS > 0 {
		w.Int("duration", int64(ev.Response.Latency.TotalMS))
	}

	w.Open("metadata")
	w.Str("version", SchemaVersion)
	w.Str("uid", ev.ID)
	w.Str("correlation_uid", ev.Request.ID)
	w.Str("event_code", string(ev.Type))
	w.Str("log_name", "gatewatch.events")
	w.Open("product")
	w.Str("name", "gatewatch")
	w.Str("vendor_name", "gatewatch")
	w.Str("version", e.ProductVersion)
	w.Close()
	w.Close()

	// A finding carries the client inside its evidence instead.
	if (c == HTTPActivity || c == Authentication || c == WebResourceAccess) && ev.Client.IP != "" {
		w.Open("src_endpoint")
		w.Str("ip", ev.Client.IP)
		w.Close()
	}

	switch c {
	case HTTPActivity:
		writeHTTPRequest(&w, ev)
		writeHTTPResponse(&w, ev)
		if ev.Response.Status != 0 {
			w.Int("http_status", int64(ev.Response.Status))
		}
	case Authentication:
		writeAuthentication(&w, ev)
	case WebResourceAccess:
		writeHTTPRequest(&w, ev)
		writeHTTPResponse(&w, ev)
		w.OpenArray("web_resources")
		w.Open("")
		writeRouteResource(&w, ev)
		w.Close()
		w.CloseArray()
	case DetectionFinding:
		writeFinding(&w, ev)
	}
	writeUnmapped(&w, ev)
	w.Close()
	return w.B, nil
}

func writeHTTPRequest(w *jsonw.W, ev *event.Event) {
	r := &ev.Request
	w.Open("http_request")
	w.Str("http_method", r.Method)
	w.Str("uid", r.ID)
	w.Str("user_agent", ev.Client.UserAgent)
	// url requires a path or url_string; an event without a request path
	// (Kong's error log) has no url at all rather than an empty one.
	if r.Path != "" {
		w.Open("url")
		w.Str("hostname", r.Host)
		w.Str("path", r.Path)
		w.Str("query_string", r.Query)
		w.Close()
	}
	w.Close()
}

func writeHTTPResponse(w *jsonw.W, ev *event.Event) {
	if ev.Response.Status == 0 {
		return
	}
	w.Open("http_response")
	w.Int("code", int64(ev.Response.Status))
	if ev.Response.Latency.TotalMS > 0 {
		w.Int("latency", int64(ev.Response.Latency.TotalMS))
	}
	w.Close()
}

func writeRouteResource(w *jsonw.W, ev *event.Event) {
	rt := ev.Kong.Route
	if rt.ID == "" && rt.Name == "" {
		// Resources need a name or uid; a denial without a matched route
		// names the path instead.
		w.Str("name", ev.Request.Path)
		w.Str("type", "path")
		return
	}
	w.Str("uid", rt.ID)
	w.Str("name", rt.Name)
	w.Str("type", "kong route")
	w.Str("url_string", ev.Request.Path)
}

func writeAuthentication(w *jsonw.W, ev *event.Event) {
	d := &ev.Detail
	id, name := authProtocol(d.Mechanism)
	w.Int("auth_protocol_id", int64(id))
	w.Str("auth_protocol", name)
	w.Bool("is_remote", true)
	// user is required; the attempted identity, else the consumer, else an
	// explicit unknown.
	w.Open("user")
	switch {
	case d.Identity != nil && d.Identity.Kind == "username":
		w.Str("name", d.Identity.Value)
	case d.Identity != nil:
		w.Str("uid", d.Identity.Kind+":"+d.Identity.Value)
	case ev.Client.Consumer.ID != "" || ev.Client.Consumer.Username != "":
		w.Str("uid", ev.Client.Consumer.ID)
		w.Str("name", ev.Client.Consumer.Username)
	default:
		w.Str("name", "unknown")
	}
	w.Close()
	if ev.Kong.Service.ID != "" || ev.Kong.Service.Name != "" {
		w.Open("service")
		w.Str("uid", ev.Kong.Service.ID)
		w.Str("name", ev.Kong.Service.Name)
		w.Close()
	}
	if ev.Request.Host != "" {
		w.Open("dst_endpoint")
		w.Str("hostname", ev.Request.Host)
		w.Close()
	}
	writeHTTPRequest(w, ev)
	writeHTTPResponse(w, ev)
}

func writeFinding(w *jsonw.W, ev *event.Event) {
	d := &ev.Detail
	w.Bool("is_alert", true)
	top := describe.TopFinding(ev)
	w.Open("finding_info")
	w.Str("uid", ev.ID)
	w.Join("title", describe.Title(ev.Type), ": ", describe.Reason(ev))
	var classes [8]string
	types := classes[:0]
	for _, f := range d.Findings {
		if len(types) < cap(types) && !contains(types, f.Class) && f.Class != "" {
			types = append(types, f.Class)
		}
	}
	w.Strs("types", types...)
	if top >= 0 {
		f := &d.Findings[top]
		w.Open("analytic")
		w.Str("uid", f.RuleID)
		w.Str("name", f.Class)
		w.Int("type_id", 1)
		w.Str("type", "Rule")
		w.Close()
	}
	var techBuf [8]string
	if techs := describe.Techniques(techBuf[:0], ev); len(techs) > 0 {
		w.OpenArray("attacks")
		for _, t := range techs {
			w.Open("")
			// ATT&CK sub-techniques (T1595.002) have their own slot beside
			// their parent technique.
			parent, _, isSub := strings.Cut(t, ".")
			w.Open("technique")
			w.Str("uid", parent)
			w.Str("src_url", describe.AttackURL(parent))
			w.Close()
			if isSub {
				w.Open("sub_technique")
				w.Str("uid", t)
				w.Str("src_url", describe.AttackURL(t))
				w.Close()
			}
			w.Close()
		}
		w.CloseArray()
	}
	w.Close()

	var cwes [8]string
	cw := cwes[:0]
	for _, f := range d.Findings {
		if f.CWE != "" && len(cw) < cap(cw) && !contains(cw, f.CWE) {
			cw = append(cw, f.CWE)
		}
	}
	if len(cw) > 0 {
		w.OpenArray("vulnerabilities")
		for _, c := range cw {
			w.Open("")
			w.Open("cwe")
			w.Str("uid", c)
			w.Close()
			w.Close()
		}
		w.CloseArray()
	}

	w.OpenArray("evidences")
	w.Open("")
	writeHTTPRequest(w, ev)
	writeHTTPResponse(w, ev)
	if ev.Client.IP != "" {
		w.Open("src_endpoint")
		w.Str("ip", ev.Client.IP)
		w.Close()
	}
	if len(d.Findings) > 0 {
		w.OpenArray("data")
		for i := range d.Findings {
			f := &d.Findings[i]
			w.Open("")
			w.Str("rule_id", f.RuleID)
			w.Str("class", f.Class)
			w.Str("severity", string(f.Severity))
			w.Str("location", f.Location)
			w.Str("fragment", f.Fragment)
			w.Close()
		}
		w.CloseArray()
	}
	w.Close()
	w.CloseArray()
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// writeUnmapped keeps what OCSF has no attribute for: where in Kong the
// request ran, the consumer (outside Authentication), and the native detail.
func writeUnmapped(w *jsonw.W, ev *event.Event) {
	w.Open("unmapped")
	w.Str("gatewatch_type", string(ev.Type))
	w.Open("kong")
	w.Str("node_id", ev.Kong.NodeID)
	w.Str("workspace", ev.Kong.Workspace)
	w.Str("route_id", ev.Kong.Route.ID)
	w.Str("route_name", ev.Kong.Route.Name)
	w.Str("service_id", ev.Kong.Service.ID)
	w.Str("service_name", ev.Kong.Service.Name)
	w.Str("consumer_id", ev.Client.Consumer.ID)
	w.Str("consumer_username", ev.Client.Consumer.Username)
	w.Str("response_source", ev.Response.Source)
	w.Close()
	w.Detail("detail", &ev.Detail)
	w.Close()
}
