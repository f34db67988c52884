// Package event is gatewatch's security event model, schema version 1.
//
// An Event is what the monitor publishes to Kafka for one security-relevant
// outcome of one Kong request. The field names are a contract with every
// consumer (alert rules, SIEM connectors, operators' jq one-liners): fields
// may be added, never renamed or removed within a schema version. The
// contract is documented in docs/events.md and docs/event.schema.json, and a
// test keeps the three in step.
//
// The package is pure: no clocks or randomness it was not given, no I/O.
package event

import "time"

// SchemaVersion is the value of every event's schema_version field.
const SchemaVersion = 1

// Type names an event type. The set is fixed by docs/events.md.
type Type string

// The event types of schema version 1.
const (
	AuthFailure     Type = "auth.failure"
	AccessDenied    Type = "access.denied"
	RateLimited     Type = "rate.limited"
	RequestRejected Type = "request.rejected"
	AttackDetected  Type = "attack.detected"
	RouteNotFound   Type = "route.not_found"
	UpstreamError   Type = "upstream.error"
	GatewayError    Type = "gateway.error"
	LatencySlow     Type = "latency.slow"
	ConfigChange    Type = "config.change"
	RequestLogged   Type = "request.logged"
	KongError       Type = "kong.error"
	Dropped         Type = "gatewatch.dropped"
)

// Types lists every type in documentation order.
var Types = []Type{
	AuthFailure, AccessDenied, RateLimited, RequestRejected, AttackDetected,
	RouteNotFound, UpstreamError, GatewayError, LatencySlow, ConfigChange,
	RequestLogged, KongError, Dropped,
}

// Severity orders how urgently a human should look at an event.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists every severity, lowest first.
var Severities = []Severity{Info, Low, Medium, High, Critical}

// Rank returns 0 for info up to 4 for critical, and -1 for an unknown value,
// so that "severity at least" comparisons are integer comparisons.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 0
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return -1
}

// ParseSeverity validates a severity name.
func ParseSeverity(s string) (Severity, bool) {
	v := Severity(s)
	return v, v.Rank() >= 0
}

// Event is one security event. Zero-valued optional fields are left out of
// the encoding; the required ones (schema_version, id, time, type, severity)
// are always present.
type Event struct {
	SchemaVersion int       `json:"schema_version"`
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	Type          Type      `json:"type"`
	Severity      Severity  `json:"severity"`
	Kong          Kong      `json:"kong"`
	Client        Client    `json:"client"`
	Request       Request   `json:"request"`
	Response      Response  `json:"response"`
	Detail        Detail    `json:"detail"`
}

// Kong is where in Kong the request ran.
type Kong struct {
	NodeID    string `json:"node_id,omitempty"`
	Route     Ref    `json:"route"`
	Service   Ref    `json:"service"`
	Workspace string `json:"workspace,omitempty"`
}

// Ref identifies a Kong entity by id and name.
type Ref struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Client is who sent the request.
type Client struct {
	IP        string   `json:"ip,omitempty"`
	UserAgent string   `json:"user_agent,omitempty"`
	Consumer  Consumer `json:"consumer"`
	// Geo and AS are set when the operator configured MaxMind-format
	// databases (geoip in the process settings).
	Geo *Geo `json:"geo,omitempty"`
	AS  *AS  `json:"as,omitempty"`
}

// Geo is where the client address is, per the operator's City database.
type Geo struct {
	Country string `json:"country,omitempty"` // ISO 3166-1 alpha-2
	Region  string `json:"region,omitempty"`  // ISO 3166-2 subdivision code
	City    string `json:"city,omitempty"`
}

// AS is the client address's autonomous system, per the ASN database.
type AS struct {
	Number       uint   `json:"number"`
	Organization string `json:"organization,omitempty"`
}

// Consumer is the Kong consumer the request was authenticated as.
type Consumer struct {
	ID       string `json:"id,omitempty"`
	Username string `json:"username,omitempty"`
}

// Request describes the request line. Query is already redacted.
type Request struct {
	ID     string `json:"id,omitempty"`
	Method string `json:"method,omitempty"`
	Host   string `json:"host,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	// Headers holds the request headers the route's include_headers names
	// (never a secret one), lower-case names, first value.
	Headers map[string]string `json:"headers,omitempty"`
}

// Response describes what the client got.
type Response struct {
	Status int `json:"status"`
	// Source is who produced the response: "kong" (a plugin or Kong's own
	// error) or "upstream".
	Source  string  `json:"source,omitempty"`
	Latency Latency `json:"latency"`
}

// Latency is Kong's latency split, in milliseconds. UpstreamMS is -1 when the
// request was not proxied, as in Kong's log serializer.
type Latency struct {
	KongMS     float64 `json:"kong_ms"`
	UpstreamMS float64 `json:"upstream_ms"`
	TotalMS    float64 `json:"total_ms"`
}
