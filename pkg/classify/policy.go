package classify

import (
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// Policy is the per-route classification configuration, compiled from the
// monitor plugin's config.
type Policy struct {
	// Disabled types produce no event. request.logged is controlled by
	// LogAllRequests instead.
	Disabled map[event.Type]bool
	// SeverityOverrides replaces a type's default severity.
	SeverityOverrides map[event.Type]event.Severity
	// LatencyThresholdMS > 0 enables latency.slow for requests whose total
	// latency exceeds it.
	LatencyThresholdMS float64
	// AdminAPI marks the route as the Kong Admin API loopback: mutating
	// requests on it are config.change events.
	AdminAPI bool
	// LogAllRequests emits request.logged for every request.
	LogAllRequests bool
	// APIKeyNames are key-auth's key_names (default ["apikey"]): where a
	// request may carry an API key.
	APIKeyNames []string
	// Redactor removes secrets; nil means the defaults.
	Redactor *redact.Redactor
	// Detector, when set, inspects requests the guard did not inspect.
	Detector Detector
	// Geo, when set, adds client.geo and client.as.
	Geo GeoLookup
	// IncludeHeaders names request headers copied into request.headers
	// (lower-case); secret headers are never copied, even when named.
	IncludeHeaders []string
}

// GeoLookup resolves a client address to its location and network.
type GeoLookup interface {
	Lookup(ip string) (event.Geo, *event.AS, bool)
}

// Detector finds attack signatures in a logged request.
type Detector interface {
	Detect(e *kongentry.Entry, dst []event.Finding) []event.Finding
}

func (p *Policy) enabled(t event.Type) bool {
	if t == event.RequestLogged {
		return p.LogAllRequests
	}
	return !p.Disabled[t]
}
