package ocsf

import (
	"errors"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/describe"
)

// Class is one OCSF event class as gatewatch uses it.
type Class struct {
	UID          int // class_uid
	Name         string
	CategoryUID  int
	CategoryName string
}

// The OCSF classes gatewatch emits.
var (
	HTTPActivity         = Class{4002, "HTTP Activity", 4, "Network Activity"}
	Authentication       = Class{3002, "Authentication", 3, "Identity & Access Management"}
	DetectionFinding     = Class{2004, "Detection Finding", 2, "Findings"}
	WebResourceAccess    = Class{6004, "Web Resource Access Activity", 6, "Application Activity"}
	ApplicationError     = Class{6008, "Application Error", 6, "Application Activity"}
	severityCaptions     = [...]string{"Unknown", "Informational", "Low", "Medium", "High", "Critical"}
	errNilEvent          = errors.New("ocsf: nil event")
	httpMethodActivities = map[string]int{"CONNECT": 1, "DELETE": 2, "GET": 3, "HEAD": 4, "OPTIONS": 5, "POST": 6, "PUT": 7, "TRACE": 8, "PATCH": 9}
	httpMethodCaptions   = [...]string{"Unknown", "Connect", "Delete", "Get", "Head", "Options", "Post", "Put", "Trace", "Patch"}
)

// ClassOf returns the OCSF class an event type is written as.
func ClassOf(t event.Type) Class {
	switch t {
	case event.AuthFailure:
		return Authentication
	case event.AttackDetected:
		return DetectionFinding
	case event.AccessDenied:
		return WebResourceAccess
	case event.KongError, event.Dropped:
		return ApplicationError
	}
	return HTTPActivity
}

// SeverityID maps gatewatch's severity to OCSF severity_id: info 1
// (Informational) up to critical 5; an unknown severity is 0 (Unknown).
func SeverityID(s event.Severity) int { return s.Rank() + 1 }

// activity returns activity_id and its caption for ev in class c.
func activity(c Class, ev *event.Event) (int, string) {
	switch c {
	case Authentication:
		return 1, "Logon"
	case DetectionFinding:
		return 1, "Create"
	case WebResourceAccess:
		return 2, "Access Deny"
	case ApplicationError:
		return 1, "General Error"
	}
	if id, ok := httpMethodActivities[ev.Request.Method]; ok {
		return id, httpMethodCaptions[id]
	}
	return 99, "Other"
}

// disposition returns action_id, disposition_id and their captions, or
// zero when gatewatch has nothing to say about enforcement.
func disposition(ev *event.Event) (action int, actionName string, disp int, dispName string) {
	switch ev.Type {
	case event.AuthFailure:
		return 2, "Denied", 26, "Unauthorized"
	case event.AccessDenied, event.RateLimited:
		return 2, "Denied", 2, "Blocked"
	case event.RequestRejected:
		return 2, "Denied", 25, "Rejected"
	case event.AttackDetected:
		if describe.Blocked(ev) {
			return 2, "Denied", 2, "Blocked"
		}
		return 1, "Allowed", 15, "Detected"
	}
	return 0, "", 0, ""
}

// authProtocol maps Kong's authentication plugin to auth_protocol_id.
func authProtocol(mechanism string) (int, string) {
	switch mechanism {
	case "basic-auth":
		return 11, "Basic Authentication"
	case "oauth2":
		return 6, "OAUTH 2.0"
	case "openid-connect":
		return 4, "OpenID"
	case "ldap-auth":
		return 12, "LDAP"
	case "key-auth":
		return 99, "API Key"
	case "jwt":
		return 99, "JWT"
	case "hmac-auth":
		return 99, "HMAC"
	}
	return 0, "Unknown"
}
