package classify

import (
	"net/url"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
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
	jwtQuery := queryValue(e.Request.RawQuery(), "jwt")

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
		if strings.Contains(challenge, "error_description") || queryValue(e.Request.RawQuery(), "access_token") != "" {
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
	for _, n := range c.p.APIKeyNames {
		if e.Request.Headers.Has(n) {
			return "header:" + n, e.Request.Headers.Get(n)
		}
	}
	q := e.Request.RawQuery()
	if q == "" {
		return "", ""
	}
	for _, n := range c.p.APIKeyNames {
		if v := queryValue(q, n); v != "" {
			return "query:" + n, v
		}
	}
	return "", ""
}

// queryValue returns the first value of name in rawQuery, decoded.
func queryValue(rawQuery, name string) string {
	for rawQuery != "" {
		pair := rawQuery
		if i := strings.IndexByte(rawQuery, '&'); i >= 0 {
			pair, rawQuery = rawQuery[:i], rawQuery[i+1:]
		} else {
			rawQuery = ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.EqualFold(k, name) {
			if dec, err := url.QueryUnescape(v); err == nil {
				return dec
			}
			return v
		}
	}
	return ""
}
