package classify

import (
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// authDetail works out which authentication plugin rejected the request and
// why, from the WWW-Authenticate challenge Kong sent and the credential the
// request carried (kong-reference §7). Kong has already replaced the
// Authorization header's value by "REDACTED" in the entry, so only its
// presence is known; API keys are fingerprinted, never copied.
func (c *Classifier) authDetail(e *kongentry.Entry) event.Detail {
	d := event.Detail{Mechanism: "unknown"}
	challenge := e.Response.Headers.Get("www-authenticate")
	scheme := strings.ToLower(challenge)
	if i := strings.IndexAny(scheme, " \t"); i >= 0 {
		scheme = scheme[:i]
	}

	keyLoc, keyVal := c.findAPIKey(e)
	hasAuthz := e.Request.Headers.Get("authorization") != "" || e.Request.Headers.Get("proxy-authorization") != ""
	jwtQuery := redact.QueryValue(e.Request.RawQuery(), "jwt")

	switch scheme {
	case "key":
		d.Mechanism = "key-auth"
	case "basic":
		d.Mechanism = "basic-auth"
	case "hmac":
		d.Mechanism = "hmac-auth"
	case "ldap":
		d.Mechanism = "ldap-auth"
	case "bearer":
		// jwt and oauth2 both challenge with Bearer; oauth2 alone adds an
		// error_description, and its token travels as access_token.
		if strings.Contains(challenge, "error_description") || redact.QueryValue(e.Request.RawQuery(), "access_token") != "" {
			d.Mechanism = "oauth2"
		} else {
			d.Mechanism = "jwt"
		}
	case "":
		switch {
		case keyLoc != "":
			d.Mechanism = "key-auth"
		case jwtQuery != "":
			d.Mechanism = "jwt"
		}
	default:
		if strings.Contains(scheme, "openid") || strings.Contains(challenge, "openid") {
			d.Mechanism = "openid-connect"
		} else {
			d.Mechanism = "unknown"
		}
	}

	switch {
	case strings.Contains(challenge, `error="invalid_token"`):
		d.Reason = "invalid_token"
	case keyLoc != "" || hasAuthz || jwtQuery != "":
		d.Reason = "invalid_credentials"
	default:
		d.Reason = "missing_credentials"
	}

	switch {
	case keyLoc != "":
		d.Credential = keyLoc
		if keyVal != "" {
			d.Identity = &event.Identity{Kind: "apikey_fingerprint", Value: c.p.Redactor.Fingerprint(keyVal)}
		}
	case jwtQuery != "":
		d.Credential = "query:jwt"
		if name, val, ok := jwtIdentity(jwtQuery); ok {
			d.Identity = &event.Identity{Kind: "jwt_claim", Name: name, Value: val}
		}
	case e.Request.Headers.Get("proxy-authorization") != "":
		d.Credential = "header:proxy-authorization"
	case hasAuthz:
		d.Credential = "header:authorization"
	}
	return d
}

// findAPIKey returns where the request carried an API key under one of the
// configured key names ("header:apikey" or "query:apikey") and its value.
func (c *Classifier) findAPIKey(e *kongentry.Entry) (loc, val string) {
	return redact.FindAPIKey(c.p.APIKeyNames, func(n string) (string, bool) {
		return e.Request.Headers.Get(n), e.Request.Headers.Has(n)
	}, e.Request.RawQuery())
}
