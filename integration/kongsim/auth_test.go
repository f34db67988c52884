package kongsim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const authYML = `
_format_version: "3.0"
services:
  - name: demo
    url: UPSTREAM
    routes:
      - name: public
        paths: ["/public"]
      - name: orders
        paths: ["/orders"]
        plugins:
          - name: key-auth
          - name: acl
            config: { allow: ["customers"] }
consumers:
  - username: alice
    keyauth_credentials: [ { key: alice-key } ]
    acls: [ { group: customers } ]
  - username: bob
    keyauth_credentials: [ { key: bob-key } ]
    acls: [ { group: partners } ]
`

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// §6.2, §7: key-auth and acl rejections exactly as each Kong version sends
// them.
func TestBundledAuthRejectionsMatchKong(t *testing.T) {
	type want struct {
		status  int
		message string
		wwwAuth string // "" = header absent
	}
	cases := []struct {
		name    string
		path    string
		headers map[string]string
		v34     want
		v39     want
	}{
		{"§7 key-auth: a request without a key gets 401 No API key found", "/orders", nil,
			want{401, "No API key found in request", `Key realm="kong"`},
			want{401, "No API key found in request", "Key"}},
		{"§7 key-auth: an unknown key gets 401 (3.6+: Unauthorized)", "/orders", map[string]string{"apikey": "nope"},
			want{401, "Invalid authentication credentials", ""},
			want{401, "Unauthorized", "Key"}},
		{"§7 key-auth: a key in the query string counts", "/orders?apikey=nope", nil,
			want{401, "Invalid authentication credentials", ""},
			want{401, "Unauthorized", "Key"}},
		{"§7 acl: a consumer outside the allow list gets 403", "/orders", map[string]string{"apikey": "bob-key"},
			want{403, "You cannot consume this service", ""},
			want{403, "You cannot consume this service", ""}},
		{"§7.1 router: no route gets 404 no Route matched", "/nowhere", nil,
			want{404, "no Route matched with those values", ""},
			want{404, "no Route matched with those values", ""}},
	}
	for _, version := range []string{"3.4", "3.9"} {
		e := startEnv(t, envOptions{version: version, yml: authYML})
		for _, tc := range cases {
			t.Run(version+" "+tc.name, func(t *testing.T) {
				w := tc.v39
				if version == "3.4" {
					w = tc.v34
				}
				resp := e.get(t, tc.path, tc.headers)
				assert.Equal(t, w.status, resp.status)
				assert.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))
				assert.Equal(t, w.wwwAuth, resp.header.Get("WWW-Authenticate"))
				assert.Equal(t, "kong/"+map[string]string{"3.4": "3.4.2", "3.9": "3.9.1"}[version], resp.header.Get("Server"))
				assert.Regexp(t, `^\d+$`, resp.header.Get("X-Kong-Response-Latency"))
				id := resp.header.Get("X-Kong-Request-Id")
				if version == "3.4" {
					assert.Empty(t, id, "3.4 has no X-Kong-Request-Id")
					assert.Equal(t, "{\n  \"message\":\""+w.message+"\"\n}", resp.body)
					return
				}
				assert.Regexp(t, requestIDPattern, id)
				assert.Equal(t, "{\n  \"message\":\""+w.message+"\",\n  \"request_id\":\""+id+"\"\n}", resp.body)
			})
		}
		t.Run(version+" §7 key-auth+acl: a consumer in the allowed group is proxied with consumer headers", func(t *testing.T) {
			resp := e.get(t, "/orders/7?x=1", map[string]string{"apikey": "alice-key"})
			require.Equal(t, 200, resp.status, resp.body)
			var body map[string]string
			require.NoError(t, json.Unmarshal([]byte(resp.body), &body))
			assert.Equal(t, "/7", body["path"], "strip_path removes the matched prefix")
			assert.Equal(t, "x=1", body["query"])
			up := <-lastHit(e)
			assert.Equal(t, "alice", up.Header.Get("X-Consumer-Username"))
			assert.Equal(t, "customers", up.Header.Get("X-Consumer-Groups"))
			assert.NotEmpty(t, up.Header.Get("X-Credential-Identifier"))
			assert.Equal(t, "mock-upstream/1.0.0", resp.header.Get("Server"))
			wantVia := map[string]string{"3.4": "kong/3.4.2", "3.9": "1.1 kong/3.9.1"}[version]
			assert.Equal(t, wantVia, resp.header.Get("Via"), "3.8 changed the Via format")
			if version == "3.9" {
				assert.Equal(t, "1.1 kong/3.9.1", up.Header.Get("Via"), "3.8+ also sends Via upstream")
			} else {
				assert.Empty(t, up.Header.Get("Via"))
			}
			assert.Regexp(t, `^\d+$`, resp.header.Get("X-Kong-Upstream-Latency"))
			assert.Regexp(t, `^\d+$`, resp.header.Get("X-Kong-Proxy-Latency"))
		})
	}
}

// lastHit drains the upstream's request log and returns the newest.
func lastHit(e *env) chan *http.Request {
	out := make(chan *http.Request, 1)
	var last *http.Request
	for {
		select {
		case r := <-e.hits:
			last = r
			continue
		default:
		}
		break
	}
	out <- last
	return out
}

// §6.2: kong.response.error picks its template from Accept.
func TestErrorTemplateFollowsAccept(t *testing.T) {
	e := startEnv(t, envOptions{yml: authYML})
	cases := []struct {
		name, accept, contentType string
		body                      func(id string) string
	}{
		{"§6.2 text/plain gets the plain template", "text/plain", "text/plain; charset=utf-8",
			func(id string) string { return "No API key found in request\nrequest_id: " + id + "\n" }},
		{"§6.2 the highest q wins", "text/plain;q=0.5, application/json", "application/json; charset=utf-8",
			func(id string) string {
				return "{\n  \"message\":\"No API key found in request\",\n  \"request_id\":\"" + id + "\"\n}"
			}},
		{"§6.2 an unsupported type falls back to JSON", "image/png", "application/json; charset=utf-8",
			func(id string) string {
				return "{\n  \"message\":\"No API key found in request\",\n  \"request_id\":\"" + id + "\"\n}"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(t, "/orders", map[string]string{"Accept": tc.accept})
			assert.Equal(t, 401, resp.status)
			assert.Equal(t, tc.contentType, resp.header.Get("Content-Type"))
			assert.Equal(t, tc.body(resp.header.Get("X-Kong-Request-Id")), resp.body)
		})
	}
}
