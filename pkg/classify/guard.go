package classify

import (
	"encoding/json"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// GuardKey is the serializer key under which gatewatch-guard hands its
// verdict to the log phase (kong.log.set_serialize_value).
const GuardKey = "gatewatch"

// GuardAnnotation is the guard's verdict as it appears in the log entry.
type GuardAnnotation struct {
	// Action is "blocked" or "logged".
	Action string `json:"action"`
	// Control is "gatewatch-guard" for signature blocks and
	// "gatewatch-blocklist" for blocklist hits.
	Control  string          `json:"control,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Subject  string          `json:"subject,omitempty"`
	Findings []event.Finding `json:"findings,omitempty"`
}

// parseGuard decodes the annotation; a malformed one is ignored rather than
// trusted, and the monitor then inspects the request itself.
func parseGuard(raw string) *GuardAnnotation {
	if raw == "" || raw == "null" {
		return nil
	}
	var g GuardAnnotation
	if err := json.Unmarshal([]byte(raw), &g); err != nil || (g.Action != "blocked" && g.Action != "logged") {
		return nil
	}
	return &g
}

// attack appends attack.detected: the guard's findings when it inspected
// the request, else the monitor's own detector's.
func (c *Classifier) attack(dst []event.Event, in *Input, g *GuardAnnotation) []event.Event {
	var findings []event.Finding
	action, engine := "logged", "monitor"
	if g != nil && len(g.Findings) > 0 {
		findings = g.Findings
		action, engine = g.Action, "guard"
	} else if g != nil && g.Control == "gatewatch-blocklist" {
		return dst
	} else if c.p.Detector != nil {
		findings = c.p.Detector.Detect(in.Entry, nil)
	}
	if len(findings) == 0 {
		return dst
	}
	sev := event.Low
	for _, f := range findings {
		if f.Severity.Rank() > sev.Rank() {
			sev = f.Severity
		}
	}
	return c.emit(dst, in, event.AttackDetected, sev, event.Detail{
		Action: action, Engine: engine, Findings: findings,
	})
}
