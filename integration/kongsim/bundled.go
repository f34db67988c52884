package kongsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// bundledPlugin is one of Kong's Lua plugins as kongsim runs it: its
// priority, its config schema (Kong's, trimmed to the fields kongsim
// honours plus the common ones operators set) and its handlers.
type bundledPlugin struct {
	name     string
	priority int
	schema   string // config record, Kong schema JSON
	// access runs in the access phase; it may set rs.exit.
	access func(rs *reqState, conf map[string]any)
	// headerFilter runs just before the response is sent.
	headerFilter func(rs *reqState, conf map[string]any)
}

// bundledPlugins returns the modelled bundled plugins for a version.
func bundledPlugins(v kongVersion) map[string]*bundledPlugin {
	out := map[string]*bundledPlugin{}
	for _, p := range []*bundledPlugin{
		keyAuthPlugin(v), aclPlugin(v),
	} {
		out[p.name] = p
	}
	for _, p := range extraBundled(v) {
		out[p.name] = p
	}
	return out
}

// bundledNames are every bundled plugin name of Kong 3.x: `plugins =
// bundled` enables all of them, even those kongsim does not run (those
// are accepted in kong.yml with any config and do nothing).
var bundledNames = []string{
	"jwt", "acl", "correlation-id", "cors", "oauth2", "tcp-log", "udp-log", "file-log",
	"http-log", "key-auth", "hmac-auth", "basic-auth", "ip-restriction", "request-transformer",
	"response-transformer", "request-size-limiting", "rate-limiting", "response-ratelimiting",
	"syslog", "loggly", "datadog", "ldap-auth", "statsd", "bot-detection", "aws-lambda",
	"request-termination", "prometheus", "proxy-cache", "session", "acme", "grpc-gateway",
	"grpc-web", "pre-function", "post-function", "azure-functions", "zipkin", "opentelemetry",
	"ai-proxy", "ai-prompt-decorator", "ai-prompt-template", "ai-prompt-guard",
	"ai-request-transformer", "ai-response-transformer", "standard-webhooks", "redirect",
}

// unmodelledPriorities are priorities of bundled plugins kongsim accepts
// but does not run (§6.3), so that ordering stays right around them.
var unmodelledPriorities = map[string]int{
	"pre-function": 1000000, "zipkin": 100000, "cors": 2000, "session": 1900, "acme": 1705,
	"oauth2": 1400, "ldap-auth": 1200, "grpc-gateway": 998, "request-transformer": 801,
	"response-transformer": 800, "aws-lambda": 750, "proxy-cache": 100, "opentelemetry": 14,
	"prometheus": 13, "http-log": 12, "statsd": 11, "datadog": 10, "file-log": 9, "udp-log": 8,
	"tcp-log": 7, "loggly": 6, "syslog": 4, "post-function": -1000, "response-ratelimiting": 900,
}

func confStrings(conf map[string]any, k string) []string {
	var out []string
	for _, v := range list(conf[k]) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func confBool(conf map[string]any, k string) bool {
	b, _ := conf[k].(bool)
	return b
}

func confString(conf map[string]any, k string) string {
	s, _ := conf[k].(string)
	return s
}

func confNum(conf map[string]any, k string) (float64, bool) {
	f, ok := conf[k].(float64)
	return f, ok
}

// setConsumer is what auth plugins do on success: authenticate and set the
// upstream consumer headers.
func setConsumer(rs *reqState, c *consumer, cred *credential) {
	rs.consumer, rs.credential = c, cred
	h := rs.upHeader
	h.Set("X-Consumer-Id", c.id)
	if c.customID != "" {
		h.Set("X-Consumer-Custom-Id", c.customID)
	} else {
		h.Del("X-Consumer-Custom-Id")
	}
	if c.username != "" {
		h.Set("X-Consumer-Username", c.username)
	} else {
		h.Del("X-Consumer-Username")
	}
	if cred != nil {
		h.Set("X-Credential-Identifier", cred.id)
	}
	h.Del("X-Anonymous-Consumer")
}

// anonymousOr falls back to the configured anonymous consumer; it reports
// whether it handled the failure.
func anonymousOr(rs *reqState, conf map[string]any) bool {
	anon := confString(conf, "anonymous")
	if anon == "" {
		return false
	}
	c := rs.cfg.decl.byName[anon]
	if c == nil {
		rs.fail(500, fmt.Sprintf("anonymous consumer %s is configured but doesn't exist", anon), nil)
		return true
	}
	setConsumer(rs, c, nil)
	rs.upHeader.Set("X-Anonymous-Consumer", "true")
	return true
}

// fail is kong.response.error from a bundled plugin (delayed in access).
func (rs *reqState) fail(status int, message string, h http.Header) {
	rs.exit = rs.errorResponse(status, message, h)
	rs.exited = true
}

func keyAuthPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"key_names":{"type":"array","required":true,"elements":{"type":"string"},"default":["apikey"]}},
		{"hide_credentials":{"type":"boolean","required":true,"default":false}},
		{"anonymous":{"type":"string"}},
		{"key_in_header":{"type":"boolean","required":true,"default":true}},
		{"key_in_query":{"type":"boolean","required":true,"default":true}},
		{"key_in_body":{"type":"boolean","required":true,"default":false}},
		{"run_on_preflight":{"type":"boolean","required":true,"default":true}}`
	if v.atLeast(7) {
		schema += `,{"realm":{"type":"string","required":false}}`
	}
	schema += `]}`
	return &bundledPlugin{name: "key-auth", priority: 1250, schema: schema, access: func(rs *reqState, conf map[string]any) {
		if !confBool(conf, "run_on_preflight") && rs.r.Method == http.MethodOptions {
			return
		}
		wwwAuth := func(always bool) http.Header {
			if !v.atLeast(7) {
				if always {
					return http.Header{"Www-Authenticate": {`Key realm="kong"`}}
				}
				return nil
			}
			if realm := confString(conf, "realm"); realm != "" {
				return http.Header{"Www-Authenticate": {`Key realm="` + realm + `"`}}
			}
			return http.Header{"Www-Authenticate": {"Key"}}
		}
		var key string
		for _, name := range confStrings(conf, "key_names") {
			if confBool(conf, "key_in_header") {
				if vs := rs.r.Header.Values(name); len(vs) > 0 {
					if len(vs) > 1 {
						if !anonymousOr(rs, conf) {
							rs.fail(401, "Duplicate API key found", wwwAuth(false))
						}
						return
					}
					key = vs[0]
					if confBool(conf, "hide_credentials") {
						rs.upHeader.Del(name)
					}
					break
				}
			}
			if confBool(conf, "key_in_query") {
				if q, ok := queryTable(rs.r.URL.RawQuery)[name]; ok {
					switch x := q.(type) {
					case string:
						key = x
					case []any:
						if !anonymousOr(rs, conf) {
							rs.fail(401, "Duplicate API key found", wwwAuth(false))
						}
						return
					}
					break
				}
			}
		}
		if key == "" {
			if !anonymousOr(rs, conf) {
				rs.fail(401, "No API key found in request", wwwAuth(true))
			}
			return
		}
		cred := rs.cfg.decl.keyauth[key]
		if cred == nil {
			if anonymousOr(rs, conf) {
				return
			}
			if v.atLeast(6) {
				rs.fail(401, "Unauthorized", wwwAuth(false))
			} else {
				rs.fail(401, "Invalid authentication credentials", wwwAuth(false))
			}
			return
		}
		setConsumer(rs, cred.consumer, cred)
	}}
}

func aclPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"allow":{"type":"array","elements":{"type":"string"}}},
		{"deny":{"type":"array","elements":{"type":"string"}}},
		{"hide_groups_header":{"type":"boolean","required":true,"default":false}},
		{"always_use_authenticated_groups":{"type":"boolean","required":true,"default":false}}`
	if v.atLeast(8) {
		schema += `,{"include_consumer_groups":{"type":"boolean","default":false}}`
	}
	schema += `]}`
	return &bundledPlugin{name: "acl", priority: 950, schema: schema, access: func(rs *reqState, conf map[string]any) {
		allow, deny := confStrings(conf, "allow"), confStrings(conf, "deny")
		const denied = "You cannot consume this service"
		var groups []string
		switch {
		case rs.consumer != nil && !(confBool(conf, "always_use_authenticated_groups") && rs.authGroups != nil):
			groups = rs.cfg.decl.acls[rs.consumer.id]
		case rs.authGroups != nil:
			groups = rs.authGroups
		default:
			if rs.credential != nil {
				rs.fail(403, denied, nil)
			} else {
				rs.fail(401, "Unauthorized", nil)
			}
			return
		}
		if len(groups) == 0 {
			if len(allow) > 0 {
				if rs.credential != nil || rs.consumer != nil {
					rs.fail(403, denied, nil)
				} else {
					rs.fail(401, "Unauthorized", nil)
				}
				return
			}
		}
		blocked := false
		if len(allow) > 0 {
			blocked = !intersects(groups, allow)
		} else if len(deny) > 0 {
			blocked = intersects(groups, deny)
		}
		if blocked {
			rs.fail(403, denied, nil)
			return
		}
		if !confBool(conf, "hide_groups_header") && len(groups) > 0 {
			name := "X-Consumer-Groups"
			if rs.consumer == nil {
				name = "X-Authenticated-Groups"
			}
			rs.upHeader.Set(name, strings.Join(groups, ", "))
		}
	}}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// compileBundledSchema parses a bundled plugin's schema; these are
// constants, so a failure is a kongsim bug reported at Start.
func compileBundledSchema(p *bundledPlugin) (*field, error) {
	rec, err := parseConfigRecord(json.RawMessage(p.schema))
	if err != nil {
		return nil, fmt.Errorf("bundled plugin %s: %w", p.name, err)
	}
	return rec, nil
}

// openSchema accepts any config: used for bundled plugins kongsim
// does not run.
var openSchema = &field{name: "config", typ: "record", required: true, open: true}
