// Package redact removes secrets from request data before an event is built
// from it, so that no credential ever leaves the gateway inside an event.
//
// A Redactor knows the names whose values are secret (headers and query
// parameters: API keys, tokens, passwords, session cookies, plus names the
// operator adds) and replaces their values either by the fixed Marker or by a
// keyed fingerprint that lets an analyst correlate repeated use of the same
// secret without learning it. Names are matched case-insensitively and
// after percent-decoding, so `Api%5FKey` is caught like `api_key`.
package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// Marker replaces a redacted value.
const Marker = "REDACTED"

// DefaultQueryNames are query parameters whose values are always secret.
var DefaultQueryNames = []string{
	"apikey", "api_key", "api-key", "key", "access_token", "token", "id_token",
	"refresh_token", "jwt", "password", "passwd", "pwd", "pass", "secret",
	"client_secret", "code", "auth", "authorization", "session", "sessionid",
	"signature", "sig", "x-api-key", "private_key", "otp",
}

// DefaultHeaderNames are headers whose values are always secret.
var DefaultHeaderNames = []string{
	"authorization", "proxy-authorization", "cookie", "set-cookie", "apikey",
	"x-api-key", "api-key", "x-auth-token", "x-access-token", "x-amz-security-token",
	"x-csrf-token", "x-xsrf-token",
}

// Redactor replaces secret values. The zero value is not usable; use New.
type Redactor struct {
	query   map[string]struct{}
	headers map[string]struct{}
	key     []byte
}

// New returns a Redactor for the default names plus extra ones (applied to
// both query parameters and headers). fingerprintKey keys Fingerprint; it
// should be a per-deployment secret so that fingerprints cannot be reversed
// by hashing candidate keys.
func New(extra []string, fingerprintKey []byte) *Redactor {
	r := &Redactor{
		query:   make(map[string]struct{}, len(DefaultQueryNames)+len(extra)),
		headers: make(map[string]struct{}, len(DefaultHeaderNames)+len(extra)),
		key:     append([]byte(nil), fingerprintKey...),
	}
	for _, n := range DefaultQueryNames {
		r.query[n] = struct{}{}
	}
	for _, n := range DefaultHeaderNames {
		r.headers[n] = struct{}{}
	}
	for _, n := range extra {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		r.query[n] = struct{}{}
		r.headers[n] = struct{}{}
	}
	return r
}

// SecretHeader reports whether a header's value must not leave the gateway.
func (r *Redactor) SecretHeader(name string) bool {
	_, ok := r.headers[strings.ToLower(name)]
	return ok
}

// SecretParam reports whether a query or form parameter's value must not
// leave the gateway.
func (r *Redactor) SecretParam(name string) bool {
	if _, ok := r.query[strings.ToLower(name)]; ok {
		return true
	}
	if strings.ContainsAny(name, "%+") {
		if dec, err := url.QueryUnescape(name); err == nil {
			_, ok := r.query[strings.ToLower(dec)]
			return ok
		}
	}
	return false
}

// Query returns rawQuery with the value of every secret parameter replaced
// by Marker. The rest of the query is kept byte for byte, so an analyst sees
// the request as it was sent. It does not allocate when nothing is secret.
func (r *Redactor) Query(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b []byte
	rest := rawQuery
	pos := 0
	for len(rest) > 0 {
		end := strings.IndexByte(rest, '&')
		pair := rest
		if end >= 0 {
			pair = rest[:end]
		}
		name := pair
		eq := strings.IndexByte(pair, '=')
		if eq >= 0 {
			name = pair[:eq]
		}
		if eq >= 0 && r.SecretParam(name) {
			if b == nil {
				b = make([]byte, 0, len(rawQuery)+8)
				b = append(b, rawQuery[:pos]...)
			}
			b = append(b, pair[:eq+1]...)
			b = append(b, Marker...)
		} else if b != nil {
			b = append(b, pair...)
		}
		if end < 0 {
			break
		}
		if b != nil {
			b = append(b, '&')
		}
		pos += end + 1
		rest = rest[end+1:]
	}
	if b == nil {
		return rawQuery
	}
	return string(b)
}

// Fingerprint returns a keyed, truncated hash of a secret: the same secret
// always gives the same 16 hex digits under one key, and nothing about the
// secret can be learnt from it without the key.
func (r *Redactor) Fingerprint(secret string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(secret))
	sum := m.Sum(nil)
	return hex.EncodeToString(sum[:8])
}
