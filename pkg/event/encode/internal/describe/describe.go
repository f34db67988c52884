// Package describe holds what every SIEM format says about an event in
// words or in shared vocabularies: a title per event type, the outcome of a
// request, whether gatewatch's gateway stopped it, and MITRE ATT&CK links.
// Keeping it once means OCSF, ECS and CEF agree with each other.
package describe

import (
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// Title is a short human name for an event type, used as the CEF Name and
// the OCSF/ECS message prefix. Unknown types get their own name.
func Title(t event.Type) string {
	switch t {
	case event.AuthFailure:
		return "Authentication failure"
	case event.AccessDenied:
		return "Access denied"
	case event.RateLimited:
		return "Rate limit exceeded"
	case event.RequestRejected:
		return "Request rejected"
	case event.AttackDetected:
		return "Attack detected"
	case event.RouteNotFound:
		return "No route matched"
	case event.UpstreamError:
		return "Upstream error"
	case event.GatewayError:
		return "Gateway error"
	case event.LatencySlow:
		return "Slow request"
	case event.ConfigChange:
		return "Kong configuration change"
	case event.RequestLogged:
		return "Request logged"
	case event.KongError:
		return "Kong error log line"
	case event.Dropped:
		return "gatewatch dropped events"
	}
	return string(t)
}

// Blocked reports whether Kong refused the request because of a security
// control (as opposed to an error or a request that went through).
func Blocked(ev *event.Event) bool {
	switch ev.Type {
	case event.AuthFailure, event.AccessDenied, event.RateLimited, event.RequestRejected:
		return true
	case event.AttackDetected:
		return ev.Detail.Action == "blocked"
	}
	return false
}

// Failed reports whether the request did not succeed from the client's
// point of view: a block, or a status of 400 or more.
func Failed(ev *event.Event) bool {
	return Blocked(ev) || ev.Response.Status >= 400 || ev.Type == event.Dropped
}

// Reason is the single most useful detail word for an event: the
// authentication reason, the control that denied, the rate-limit period,
// the first finding's class, the upstream status or the drop reason.
func Reason(ev *event.Event) string {
	d := &ev.Detail
	switch {
	case d.Reason != "":
		return d.Reason
	case d.Control != "":
		return d.Control
	case len(d.Findings) > 0:
		return d.Findings[0].Class
	case d.UpstreamStatus != "":
		return "upstream_status " + d.UpstreamStatus
	}
	return ""
}

// Techniques appends the distinct ATT&CK technique ids of the findings to
// dst, in order of first appearance. Callers pass a small stack array so
// that encoding does not allocate.
func Techniques(dst []string, ev *event.Event) []string {
	out := dst
	for _, f := range ev.Detail.Findings {
		if f.Technique == "" {
			continue
		}
		dup := false
		for _, t := range out {
			if t == f.Technique {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f.Technique)
		}
	}
	return out
}

// AttackURL is the MITRE ATT&CK page of a technique id: T1190 →
// https://attack.mitre.org/techniques/T1190/, and a sub-technique
// T1059.007 → …/techniques/T1059/007/.
func AttackURL(id string) string {
	return "https://attack.mitre.org/techniques/" + strings.ReplaceAll(id, ".", "/") + "/"
}

// TopFinding is the index of the most severe finding (the first of equals),
// or -1 when there are none.
func TopFinding(ev *event.Event) int {
	best := -1
	for i := range ev.Detail.Findings {
		if best < 0 || ev.Detail.Findings[i].Severity.Rank() > ev.Detail.Findings[best].Severity.Rank() {
			best = i
		}
	}
	return best
}
