// Package sample holds the events the encoder tests, golden files, fuzz
// seeds and benchmarks share: one realistic event of every type, and a
// hostile one. Fixed ids and times keep golden files stable.
package sample

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// base is a request through Kong that each type then specialises.
func base(i int, t event.Type, sev event.Severity) event.Event {
	return event.Event{
		SchemaVersion: event.SchemaVersion,
		ID:            fmt.Sprintf("0193a6f0-5c2e-7d4a-9b1c-%012d", i),
		Time:          time.Date(2026, 11, 25, 20, 15, 30, 123456000, time.UTC),
		Type:          t,
		Severity:      sev,
		Kong: event.Kong{
			NodeID:    "6f1c8a52-0d3b-4a7e-9a41-2f5d7c9e1b30",
			Route:     event.Ref{ID: "8c2b7e4f-1a9d-4c3e-b5f6-0e7d8a9b1c2d", Name: "orders-api"},
			Service:   event.Ref{ID: "3e5a1b9c-7d2f-4e8a-a6b4-9c1d0e2f3a4b", Name: "orders"},
			Workspace: "default",
		},
		Client: event.Client{IP: "203.0.113.45", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) curl/8.5.0"},
		Request: event.Request{ID: "f2b9c4d1e0a7b6c5d4e3f2a1b0c9d8e7", Method: "GET", Host: "api.example.com",
			Path: "/v1/orders/42", Query: "expand=items"},
		Response: event.Response{Status: 200, Source: "upstream",
			Latency: event.Latency{KongMS: 2, UpstreamMS: 38, TotalMS: 40}},
	}
}

// Events returns one event of every type in event.Types, in that order.
func Events() []event.Event {
	var out []event.Event
	for i, t := range event.Types {
		out = append(out, ForType(i+1, t))
	}
	return out
}

// ForType returns the sample event of type t, numbered i.
func ForType(i int, t event.Type) event.Event {
	e := base(i, t, event.Low)
	kongAnswered := func(status int) {
		e.Response.Status = status
		e.Response.Source = "kong"
		e.Response.Latency = event.Latency{KongMS: 1, UpstreamMS: -1, TotalMS: 1}
	}
	switch t {
	case event.AuthFailure:
		kongAnswered(401)
		e.Request.Query = "apikey=REDACTED"
		e.Detail = event.Detail{Mechanism: "key-auth", Reason: "invalid_credentials", Credential: "query:apikey",
			Identity: &event.Identity{Kind: "apikey_fingerprint", Value: "9f86d081884c7d65"}}
	case event.AccessDenied:
		kongAnswered(403)
		e.Severity = event.Medium
		e.Client.Consumer = event.Consumer{ID: "a1b2c3d4-0000-4000-8000-000000000001", Username: "partner-billing"}
		e.Detail = event.Detail{Control: "acl", ConsumerGroups: "partners"}
	case event.RateLimited:
		kongAnswered(429)
		e.Client.Consumer = event.Consumer{ID: "a1b2c3d4-0000-4000-8000-000000000002", Username: "mobile-app"}
		e.Detail = event.Detail{RateLimit: &event.RateLimit{Limit: 100, Remaining: 0, Reset: 17, RetryAfter: 17, Period: "minute"}}
	case event.RequestRejected:
		kongAnswered(413)
		e.Request.Method = "POST"
		e.Detail = event.Detail{Control: "request-size-limiting", Reason: "payload_too_large"}
	case event.AttackDetected:
		kongAnswered(403)
		e.Severity = event.High
		e.Request.Query = "id=1%27%20OR%20%271%27%3D%271"
		e.Detail = event.Detail{Action: "blocked", Engine: "guard", Findings: []event.Finding{
			{RuleID: "gw-sqli-001", Class: "sqli", Severity: event.High, Location: "query:id",
				Fragment: `1' OR '1'='1`, CWE: "CWE-89", Technique: "T1190"},
			{RuleID: "gw-scan-004", Class: "scanner", Severity: event.Low, Location: "header:user-agent",
				Fragment: "sqlmap/1.7", Technique: "T1595.002"},
		}}
	case event.RouteNotFound:
		kongAnswered(404)
		e.Kong.Route = event.Ref{}
		e.Kong.Service = event.Ref{}
		e.Request.Path = "/wp-login.php"
		e.Request.Query = ""
	case event.UpstreamError:
		e.Response.Status = 503
		e.Detail = event.Detail{UpstreamStatus: "503", Tries: 1}
	case event.GatewayError:
		e.Severity = event.Medium
		kongAnswered(502)
		e.Response.Latency = event.Latency{KongMS: 1, UpstreamMS: -1, TotalMS: 60001}
		e.Detail = event.Detail{UpstreamStatus: "502, 502", Tries: 2}
	case event.LatencySlow:
		e.Response.Latency = event.Latency{KongMS: 3, UpstreamMS: 2497, TotalMS: 2500}
		e.Detail = event.Detail{ThresholdMS: 1000}
	case event.ConfigChange:
		e.Severity = event.High
		e.Request.Method = "POST"
		e.Request.Host = "kong-admin.internal"
		e.Request.Path = "/services/orders/routes"
		e.Request.Query = ""
		e.Response.Status = 201
		e.Client.Consumer = event.Consumer{ID: "a1b2c3d4-0000-4000-8000-000000000003", Username: "ops-alice"}
		e.Detail = event.Detail{Actor: "ops-alice", EntityPath: "/services/orders/routes"}
	case event.RequestLogged:
		e.Severity = event.Info
	case event.KongError:
		e.Severity = event.Medium
		e.Client = event.Client{}
		e.Request = event.Request{}
		e.Response = event.Response{}
		e.Kong.Route = event.Ref{}
		e.Kong.Service = event.Ref{}
	case event.Dropped:
		e.Severity = event.High
		e.Client = event.Client{}
		e.Request = event.Request{}
		e.Response = event.Response{}
		e.Kong = event.Kong{NodeID: e.Kong.NodeID}
		e.Detail = event.Detail{Dropped: 1250, Reason: "spool_full"}
	}
	return e
}

// Hostile returns an attack event whose every free-text field carries what
// breaks naive encoders: newlines, CEF and syslog delimiters, control
// characters, invalid UTF-8 and, in the path, 64 KiB.
func Hostile() event.Event {
	e := ForType(99, event.AttackDetected)
	nasty := "a|b\\c=d\ne\rf]g\"h\x00i\x1bj\x7fk\xffl\u2028m CEF:0|x|y|z"
	e.Client.UserAgent = nasty
	e.Client.Consumer.Username = nasty
	e.Request.Host = nasty
	e.Request.Path = "/" + strings.Repeat("A|=\\\n", 64<<10/5)
	e.Request.Query = nasty
	e.Kong.Route.Name = nasty
	e.Detail.Findings[0].Fragment = nasty
	e.Detail.Findings[0].RuleID = nasty
	e.Detail.Findings[0].Technique = "T1190\n|="
	e.Detail.Reason = nasty
	return e
}
