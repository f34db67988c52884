package kongsim

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const routingYML = `
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM/base
    routes:
      - { name: prefix, paths: ["/api"] }
      - { name: longer, paths: ["/api/v2"], strip_path: false }
      - { name: regex, paths: ["~/users/(?<id>\\d+)$"] }
      - { name: host, hosts: ["example.com"], paths: ["/api"] }
      - { name: wildcard, hosts: ["*.example.org"] }
      - { name: post, methods: ["POST"], paths: ["/api"] }
`

// §8 and the router: prefix and regex paths, hosts, methods, strip_path.
func TestRoutingLikeKong(t *testing.T) {
	e := startEnv(t, envOptions{yml: routingYML + `
plugins:
  - name: request-termination
    route: wildcard
    config: { status_code: 200, message: "wildcard" }
`})
	cases := []struct {
		name, method, path, host string
		wantPath                 string // upstream path; "" = expect wildcard/404
		wantStatus               int
	}{
		{"§8 a prefix path strips the prefix and joins the service path", "GET", "/api/x", "", "/base/x", 200},
		{"§8 the longest prefix wins and strip_path false keeps the path", "GET", "/api/v2/y", "", "/base/api/v2/y", 200},
		{"§8 a ~ regex path matches anchored", "GET", "/users/42", "", "/base", 200},
		{"§8 a regex does not match a longer path it does not cover", "GET", "/users/42/x", "", "", 404},
		{"§8 a route with host and path beats one with path only", "GET", "/api/x", "example.com", "/base/x", 200},
		{"§8 methods narrow a route", "POST", "/api/x", "", "/base/x", 200},
		{"§8 wildcard hosts match subdomains", "GET", "/anything", "a.example.org", "", 200},
		{"§7.1 nothing matches: 404", "GET", "/nope", "", "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{}
			if tc.host != "" {
				headers["Host"] = tc.host
			}
			resp := e.do(t, tc.method, tc.path, headers)
			require.Equal(t, tc.wantStatus, resp.status, resp.body)
			if tc.wantPath != "" {
				var body map[string]string
				require.NoError(t, json.Unmarshal([]byte(resp.body), &body))
				assert.Equal(t, tc.wantPath, body["path"])
			}
		})
	}
	t.Run("the route with more matchers is chosen", func(t *testing.T) {
		m := matchRoute(e.gw.cfg.Load().routes, "POST", "example.com", "/api/x", nil)
		require.NotNil(t, m)
		assert.Equal(t, "host", m.route.name, "host+path ranks with post+path; file order breaks the tie")
	})
}

// upstream_uri for path_handling v0 (get_upstream_uri_v0).
func TestUpstreamPathV0(t *testing.T) {
	cases := []struct {
		svc, uri, matched string
		strip             bool
		want              string
	}{
		{"", "/api/x", "/api", true, "/x"},
		{"", "/api", "/api", true, "/"},
		{"/base", "/api", "/api", true, "/base"},
		{"/base", "/api/", "/api", true, "/base/"},
		{"/base/", "/api/x", "/api", true, "/base/x"},
		{"/base", "/api/x", "/api", false, "/base/api/x"},
		{"/base/", "/api/x", "/api", false, "/base/api/x"},
		{"/base", "/apix", "/api", true, "/base/x"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("service %q request %q strip %v gives %q", tc.svc, tc.uri, tc.strip, tc.want), func(t *testing.T) {
			assert.Equal(t, tc.want, upstreamPath(tc.svc, tc.uri, tc.matched, tc.strip))
		})
	}
}

// §3.1: the most specific config wins, and a consumer-scoped config
// applies once an auth plugin with higher priority set the consumer.
func TestPluginScopingPrecedence(t *testing.T) {
	dir := shortTempDir(t)
	out := func(n string) string { return filepath.Join(dir, n+".jsonl") }
	e := startEnv(t, envOptions{servers: []string{"probe"}, yml: fmt.Sprintf(`
_format_version: "3.0"
services:
  - name: s
    url: UPSTREAM
    plugins:
      - { name: probe, config: { out: %q, access: ["method"] } }
    routes:
      - name: r
        paths: ["/r"]
        plugins:
          - { name: key-auth }
          - { name: probe, config: { out: %q, access: ["method"] } }
      - name: plain
        paths: ["/plain"]
consumers:
  - username: alice
    keyauth_credentials: [ { key: k } ]
    plugins:
      - { name: probe, config: { out: %q, access: ["method"] } }
plugins:
  - { name: probe, config: { out: %q, access: ["method"] } }
`, out("service"), out("route"), out("consumer"), out("global"))})
	require.Equal(t, 200, e.get(t, "/r", map[string]string{"apikey": "k"}).status)
	require.Equal(t, 200, e.get(t, "/plain", nil).status)
	require.Equal(t, 404, e.get(t, "/none", nil).status)
	e.idle(t)
	count := func(n string) int { return len(readProbe(t, out(n))) }
	assert.Equal(t, 1, count("consumer"), "lookup_cfg: consumer ranks above route; key-auth (1250) ran before the probe (1000), so the consumer is known")
	assert.Equal(t, 0, count("route"), "route ranks below consumer")
	assert.Equal(t, 1, count("service"), "/plain: the service config beats the global one")
	assert.Equal(t, 0, count("global"), "no route: global access does not run")
}
