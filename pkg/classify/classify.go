// Package classify turns one decoded Kong log entry into the security events
// it stands for (docs/events.md says how each type is decided).
//
// Classification uses status, response source, response headers, consumer
// and route together rather than status alone, because operators change the
// status codes of ip-restriction and rate-limiting, and because an upstream
// that answers 401 itself is the application's business, not an
// authentication failure at the gateway. The package is pure: the caller
// passes the clock reading and the id generator.
package classify

import (
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// Response sources, after normalising Kong's two vocabularies
// (kong.response.get_source says exit/error/service; the 3.9+ serializer
// says kong/upstream).
const (
	SourceKong     = "kong"
	SourceUpstream = "upstream"
)

// NormalizeSource maps kong.response.get_source's answer or the serialized
// entry's source field onto SourceKong or SourceUpstream ("" if unknown).
func NormalizeSource(s string) string {
	switch s {
	case "exit", "error", "kong":
		return SourceKong
	case "service", "upstream":
		return SourceUpstream
	}
	return ""
}

// NeedsSource reports whether the entry leaves the response source open and
// it matters: Kong before 3.9 does not serialize it, and for ordinary
// 2xx/3xx traffic it never changes the outcome, so callers ask
// kong.response.get_source only when this is true.
func NeedsSource(e *kongentry.Entry) bool {
	return e.Source == "" && e.Response.Status >= 400
}

// Input is one entry to classify.
type Input struct {
	Entry *kongentry.Entry
	// Source is the normalised response source: the entry's own, or what
	// kong.response.get_source answered; "" when unknown.
	Source string
	NodeID string
	Now    time.Time
}

// IDSource makes event ids.
type IDSource interface {
	New(now time.Time) string
}

// Classifier holds a compiled per-route policy. It is safe for concurrent
// use.
type Classifier struct {
	p   Policy
	ids IDSource
}

// New compiles a policy. A nil Redactor gets the default one.
func New(p Policy, ids IDSource) *Classifier {
	if p.Redactor == nil {
		p.Redactor = redact.New(nil, nil)
	}
	if len(p.APIKeyNames) == 0 {
		p.APIKeyNames = []string{"apikey"}
	}
	for i, n := range p.APIKeyNames {
		p.APIKeyNames[i] = strings.ToLower(n)
	}
	var include []string
	for _, n := range p.IncludeHeaders {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && !p.Redactor.SecretHeader(n) {
			include = append(include, n)
		}
	}
	p.IncludeHeaders = include
	return &Classifier{p: p, ids: ids}
}

// Classify appends the events for in to dst. Benign traffic appends
// nothing (unless the policy logs every request).
func (c *Classifier) Classify(in *Input, dst []event.Event) []event.Event {
	e := in.Entry
	status := e.Response.Status
	src := in.Source
	if src == "" {
		src = NormalizeSource(e.Source)
	}
	fromKong := src == SourceKong
	guard := parseGuard(e.Gatewatch)

	switch {
	case status == 404 && !e.Route.Present && !e.Tries.Present && src != SourceUpstream:
		dst = c.emit(dst, in, event.RouteNotFound, event.Low, event.Detail{})
	case guard != nil && guard.Action == "blocked" && fromKong:
		control := guard.Control
		if control == "" {
			control = "gatewatch-guard"
		}
		dst = c.emit(dst, in, event.AccessDenied, event.High, event.Detail{
			Control: control,
			Reason:  guard.Reason,
		})
	case status == 401 && fromKong:
		dst = c.emit(dst, in, event.AuthFailure, event.Low, c.authDetail(e))
	case status == 429 && fromKong, fromKong && isRateLimitResponse(e):
		dst = c.emit(dst, in, event.RateLimited, event.Low, event.Detail{RateLimit: rateLimit(e)})
	case status == 403 && fromKong:
		dst = c.emit(dst, in, event.AccessDenied, event.Medium, accessDetail(e))
	case fromKong && (status == 413 || status == 411 || status == 417):
		dst = c.emit(dst, in, event.RequestRejected, event.Low, event.Detail{Control: "request-size-limiting"})
	case fromKong && status == 400 && e.Request.Headers.Count("user-agent") > 1:
		dst = c.emit(dst, in, event.RequestRejected, event.Low, event.Detail{Control: "bot-detection", Reason: "duplicate_user_agent"})
	case fromKong && status == 405 && isOAuth2Endpoint(e.Request.Path()):
		dst = c.emit(dst, in, event.RequestRejected, event.Low, event.Detail{Control: "oauth2", Reason: "invalid_method"})
	case status >= 500 && src == SourceUpstream:
		dst = c.emit(dst, in, event.UpstreamError, event.Low, event.Detail{
			UpstreamStatus: string(e.UpstreamStatus), Tries: len(e.Tries.List),
		})
	case status >= 500 && src != SourceUpstream:
		dst = c.emit(dst, in, event.GatewayError, event.Medium, event.Detail{
			UpstreamStatus: string(e.UpstreamStatus), Tries: len(e.Tries.List),
		})
	}

	if c.p.Detector != nil || (guard != nil && len(guard.Findings) > 0) {
		dst = c.attack(dst, in, guard)
	}
	if t := c.p.LatencyThresholdMS; t > 0 && e.Latencies.Request > t {
		dst = c.emit(dst, in, event.LatencySlow, event.Low, event.Detail{ThresholdMS: t})
	}
	if c.p.AdminAPI && isMutation(e.Request.Method) && e.Route.Present {
		actor := ""
		if e.Consumer.Present {
			actor = e.Consumer.Username
			if actor == "" {
				actor = e.Consumer.ID
			}
		}
		dst = c.emit(dst, in, event.ConfigChange, event.High, event.Detail{
			Actor: actor, EntityPath: e.Request.Path(),
		})
	}
	if c.p.LogAllRequests {
		dst = c.emit(dst, in, event.RequestLogged, event.Info, event.Detail{})
	}
	return dst
}

// emit appends one event of type t built from the entry, unless the policy
// disabled t.
func (c *Classifier) emit(dst []event.Event, in *Input, t event.Type, sev event.Severity, d event.Detail) []event.Event {
	if !c.p.enabled(t) {
		return dst
	}
	if o, ok := c.p.SeverityOverrides[t]; ok {
		sev = o
	}
	e := in.Entry
	ev := event.Event{
		SchemaVersion: event.SchemaVersion,
		ID:            c.ids.New(in.Now),
		Time:          eventTime(e, in.Now),
		Type:          t,
		Severity:      sev,
		Detail:        d,
	}
	ev.Kong.NodeID = in.NodeID
	ev.Kong.Workspace = e.WorkspaceName
	if ev.Kong.Workspace == "" {
		ev.Kong.Workspace = e.Workspace
	}
	if e.Route.Present {
		ev.Kong.Route = event.Ref{ID: e.Route.ID, Name: e.Route.Name}
	}
	if e.Service.Present {
		ev.Kong.Service = event.Ref{ID: e.Service.ID, Name: e.Service.Name}
	}
	ev.Client.IP = e.ClientIP
	ev.Client.UserAgent = e.Request.Headers.Get("user-agent")
	if e.Consumer.Present {
		ev.Client.Consumer = event.Consumer{ID: e.Consumer.ID, Username: e.Consumer.Username}
	}
	if c.p.Geo != nil {
		if g, as, ok := c.p.Geo.Lookup(e.ClientIP); ok {
			if g != (event.Geo{}) {
				ev.Client.Geo = &g
			}
			ev.Client.AS = as
		}
	}
	ev.Request = event.Request{
		ID:     requestID(e),
		Method: e.Request.Method,
		Host:   e.Request.Host(),
		Path:   e.Request.Path(),
		Query:  c.p.Redactor.Query(e.Request.RawQuery()),
	}
	for _, n := range c.p.IncludeHeaders {
		if e.Request.Headers.Has(n) {
			if ev.Request.Headers == nil {
				ev.Request.Headers = make(map[string]string, len(c.p.IncludeHeaders))
			}
			ev.Request.Headers[n] = e.Request.Headers.Get(n)
		}
	}
	ev.Response = event.Response{
		Status: e.Response.Status,
		Source: NormalizeSource(e.Source),
		Latency: event.Latency{
			KongMS:     e.Latencies.Kong,
			UpstreamMS: e.Latencies.Proxy,
			TotalMS:    e.Latencies.Request,
		},
	}
	if ev.Response.Source == "" {
		ev.Response.Source = NormalizeSource(in.Source)
	}
	return append(dst, ev)
}

// eventTime is when the request started, as Kong recorded it; the clock
// reading is the fallback for entries without started_at.
func eventTime(e *kongentry.Entry, now time.Time) time.Time {
	if e.StartedAt > 0 {
		ms := int64(e.StartedAt)
		return time.UnixMilli(ms).UTC()
	}
	return now.UTC()
}

// requestID is Kong's request id: request.id on 3.5+, else the
// X-Kong-Request-Id response header (3.4 sends it when configured), else the
// correlation-id header when present.
func requestID(e *kongentry.Entry) string {
	if e.Request.ID != "" {
		return e.Request.ID
	}
	if v := e.Response.Headers.Get("x-kong-request-id"); v != "" {
		return v
	}
	return e.Request.Headers.Get("kong-request-id")
}

func isMutation(m string) bool {
	switch m {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

func isOAuth2Endpoint(path string) bool {
	return strings.HasSuffix(path, "/oauth2/token") || strings.HasSuffix(path, "/oauth2/authorize")
}
