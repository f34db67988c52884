package kongsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const bundledYML = `
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM
    routes:
      - { name: basic, paths: ["/basic"], plugins: [ { name: basic-auth } ] }
      - { name: jwt, paths: ["/jwt"], plugins: [ { name: jwt, config: { claims_to_verify: [exp] } } ] }
      - { name: hmac, paths: ["/hmac"], plugins: [ { name: hmac-auth } ] }
      - { name: ip, paths: ["/ip"], plugins: [ { name: ip-restriction, config: { deny: ["127.0.0.0/8"] } } ] }
      - { name: bot, paths: ["/bot"], plugins: [ { name: bot-detection, config: { deny: ["^evil"] } } ] }
      - { name: rl, paths: ["/rl"], plugins: [ { name: rate-limiting, config: { minute: 2, policy: local } } ] }
      - { name: size, paths: ["/size"], plugins: [ { name: request-size-limiting, config: { allowed_payload_size: 4, size_unit: bytes } } ] }
      - { name: term, paths: ["/term"], plugins: [ { name: request-termination } ] }
      - { name: term-msg, paths: ["/term-msg"], plugins: [ { name: request-termination, config: { status_code: 403, message: "go away" } } ] }
      - { name: cid, paths: ["/cid"], plugins: [ { name: correlation-id, config: { echo_downstream: true } } ] }
consumers:
  - username: alice
    basicauth_credentials: [ { username: alice, password: secret } ]
    jwt_secrets: [ { key: alice-iss, secret: s3cret } ]
    hmacauth_credentials: [ { username: alice-h, secret: hsecret } ]
`

func jwtToken(t *testing.T, header, claims map[string]any, secret string) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func hmacAuth(method, uri, date, user, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("date: " + date + "\n" + method + " " + uri + " HTTP/1.1"))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return `hmac username="` + user + `", algorithm="hmac-sha256", headers="date request-line", signature="` + sig + `"`
}

// errorBody is the §6.2 JSON template for version v.
func errorBody(v, message, id string) string {
	if v == "3.4" {
		return "{\n  \"message\":\"" + message + "\"\n}"
	}
	return "{\n  \"message\":\"" + message + "\",\n  \"request_id\":\"" + id + "\"\n}"
}

// §7: the bundled plugins reject as Kong does, per version.
func TestBundledPluginsRejectAsKongDoes(t *testing.T) {
	now := time.Now()
	date := now.UTC().Format(http.TimeFormat)
	good := jwtToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"iss": "alice-iss", "exp": now.Add(time.Hour).Unix()}, "s3cret")
	expired := jwtToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"iss": "alice-iss", "exp": now.Add(-time.Hour).Unix()}, "s3cret")
	forged := jwtToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"iss": "alice-iss"}, "wrong")
	unknown := jwtToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{"iss": "nobody"}, "s3cret")

	type want struct {
		status  int
		error   string // kong.response.error message (templated body)
		body    string // exact body otherwise
		headers map[string]string
	}
	cases := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		v34     *want // nil = same as v39
		v39     want
	}{
		{name: "§7 basic-auth: no credentials is 401 with a Basic challenge", path: "/basic",
			v34: &want{status: 401, error: "Unauthorized", headers: map[string]string{"WWW-Authenticate": `Basic realm="kong"`}},
			v39: want{status: 401, error: "Unauthorized", headers: map[string]string{"WWW-Authenticate": `Basic realm="service"`}}},
		{name: "§7 basic-auth: a wrong password is 401 (before 3.6: Invalid authentication credentials)", path: "/basic",
			headers: map[string]string{"Authorization": basic("alice", "nope")},
			v34:     &want{status: 401, error: "Invalid authentication credentials", headers: map[string]string{"WWW-Authenticate": `Basic realm="kong"`}},
			v39:     want{status: 401, error: "Unauthorized", headers: map[string]string{"WWW-Authenticate": `Basic realm="service"`}}},
		{name: "§7 basic-auth: the right password is proxied", path: "/basic",
			headers: map[string]string{"Authorization": basic("alice", "secret")}, v39: want{status: 200}},
		{name: "§7 jwt: no token is 401 Unauthorized with a Bearer challenge", path: "/jwt",
			v39: want{status: 401, body: `{"message":"Unauthorized"}`, headers: map[string]string{"WWW-Authenticate": "Bearer"}}},
		{name: "§7 jwt: a bad signature is 401 Invalid signature", path: "/jwt",
			headers: map[string]string{"Authorization": "Bearer " + forged},
			v39:     want{status: 401, body: `{"message":"Invalid signature"}`, headers: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}}},
		{name: "§7 jwt: an unknown issuer has no credentials", path: "/jwt",
			headers: map[string]string{"Authorization": "Bearer " + unknown},
			v39:     want{status: 401, body: `{"message":"No credentials found for given 'iss'"}`}},
		{name: "§7 jwt: an expired token sends the claim error map", path: "/jwt",
			headers: map[string]string{"Authorization": "Bearer " + expired},
			v39:     want{status: 401, body: `{"exp":"token expired"}`}},
		{name: "§7 jwt: a valid token is proxied", path: "/jwt?x=1",
			headers: map[string]string{"Authorization": "Bearer " + good}, v39: want{status: 200}},
		{name: "§7 hmac-auth: no Authorization is 401 Unauthorized", path: "/hmac",
			v39: want{status: 401, error: "Unauthorized", headers: map[string]string{"WWW-Authenticate": "hmac"}}},
		{name: "§7 hmac-auth: no date header cannot be verified", path: "/hmac",
			headers: map[string]string{"Authorization": hmacAuth("GET", "/hmac", date, "alice-h", "hsecret")},
			v39:     want{status: 401, error: "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"}},
		{name: "§7 hmac-auth: a wrong secret does not match", path: "/hmac",
			headers: map[string]string{"Date": date, "Authorization": hmacAuth("GET", "/hmac", date, "alice-h", "nope")},
			v39:     want{status: 401, error: "HMAC signature does not match"}},
		{name: "§7 hmac-auth: a correct signature is proxied", path: "/hmac",
			headers: map[string]string{"Date": date, "Authorization": hmacAuth("GET", "/hmac", date, "alice-h", "hsecret")},
			v39:     want{status: 200}},
		{name: "§7 ip-restriction: a denied address is 403 naming it", path: "/ip",
			v39: want{status: 403, error: "IP address not allowed: 127.0.0.1"}},
		{name: "§7 bot-detection: a denied user agent is 403 Forbidden", path: "/bot",
			headers: map[string]string{"User-Agent": "evil/1.0"}, v39: want{status: 403, error: "Forbidden"}},
		{name: "§7 bot-detection: a known crawler is 403 Forbidden", path: "/bot",
			headers: map[string]string{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, v39: want{status: 403, error: "Forbidden"}},
		{name: "§7 bot-detection: curl passes", path: "/bot",
			headers: map[string]string{"User-Agent": "curl/8.5.0"}, v39: want{status: 200}},
		{name: "§7 request-size-limiting: a body over the limit is 413", method: "POST", path: "/size", body: "12345",
			v39: want{status: 413, error: "Request size limit exceeded"}},
		{name: "§7 request-size-limiting: a body within the limit is proxied", method: "POST", path: "/size", body: "1234",
			v39: want{status: 200}},
		{name: "§7 request-termination: default 503 Service unavailable as a plain table", path: "/term",
			v39: want{status: 503, body: `{"message":"Service unavailable"}`}},
		{name: "§7 request-termination: a custom status and message", path: "/term-msg",
			v39: want{status: 403, body: `{"message":"go away"}`}},
	}
	for _, version := range []string{"3.4", "3.9"} {
		e := startEnv(t, envOptions{version: version, yml: bundledYML})
		for _, tc := range cases {
			t.Run(version+" "+tc.name, func(t *testing.T) {
				w := tc.v39
				if version == "3.4" && tc.v34 != nil {
					w = *tc.v34
				}
				method := tc.method
				if method == "" {
					method = http.MethodGet
				}
				req, err := http.NewRequest(method, e.gw.URL()+tc.path, strings.NewReader(tc.body))
				require.NoError(t, err)
				if tc.body == "" {
					req.Body, req.ContentLength = nil, 0
				}
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b := new(strings.Builder)
				_, _ = ioCopy(b, resp)
				assert.Equal(t, w.status, resp.StatusCode, b.String())
				if w.error != "" {
					assert.Equal(t, errorBody(version, w.error, resp.Header.Get("X-Kong-Request-Id")), b.String())
					assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
				}
				if w.body != "" {
					assert.Equal(t, w.body, b.String())
					assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
				}
				for k, v := range w.headers {
					assert.Equal(t, v, resp.Header.Get(k), k)
				}
				if w.status >= 400 {
					assert.True(t, strings.HasPrefix(resp.Header.Get("Server"), "kong/"))
				}
			})
		}
	}
}

// §7: rate-limiting's headers and its 429.
func TestRateLimitingHeadersAndRejection(t *testing.T) {
	e := startEnv(t, envOptions{yml: bundledYML})
	var got []response
	for i := 0; i < 3; i++ {
		got = append(got, e.get(t, "/rl", nil))
	}
	for i, r := range got[:2] {
		assert.Equal(t, 200, r.status, "request %d", i+1)
		assert.Equal(t, "2", r.header.Get("X-RateLimit-Limit-Minute"))
		assert.Equal(t, []string{"1", "0"}[i], r.header.Get("X-RateLimit-Remaining-Minute"), "remaining counts this request")
		assert.Equal(t, "2", r.header.Get("RateLimit-Limit"))
		assert.NotEmpty(t, r.header.Get("RateLimit-Reset"))
		assert.Empty(t, r.header.Get("Retry-After"))
	}
	blocked := got[2]
	assert.Equal(t, 429, blocked.status)
	assert.Equal(t, errorBody("3.9", "API rate limit exceeded", blocked.header.Get("X-Kong-Request-Id")), blocked.body)
	assert.Equal(t, "0", blocked.header.Get("X-RateLimit-Remaining-Minute"))
	assert.Equal(t, blocked.header.Get("RateLimit-Reset"), blocked.header.Get("Retry-After"))
}

// §7: correlation-id tags the upstream request and echoes downstream.
func TestCorrelationIDIsForwardedAndEchoed(t *testing.T) {
	e := startEnv(t, envOptions{yml: bundledYML})
	resp := e.get(t, "/cid", nil)
	require.Equal(t, 200, resp.status)
	id := resp.header.Get("Kong-Request-ID")
	assert.Regexp(t, `^[0-9a-f-]{36}#1$`, id)
	up := <-lastHit(e)
	assert.Equal(t, id, up.Header.Get("Kong-Request-ID"))
}
