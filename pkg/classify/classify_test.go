package classify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

type seqIDs struct{ n int }

func (s *seqIDs) New(time.Time) string { s.n++; return fmt.Sprintf("id-%d", s.n) }

// entry builds a serialized Kong entry the way kong.log.serialize shapes it
// (kong-reference §5), for version "3.4" (no request.id, source, workspace)
// or "3.9".
func entry(version string, status int, mutate func(m map[string]any)) []byte {
	m := map[string]any{
		"request": map[string]any{
			"uri": "/orders?x=1", "url": "http://localhost:8000/orders?x=1", "method": "GET",
			"querystring": map[string]any{"x": "1"},
			"headers":     map[string]any{"host": "localhost:8000", "user-agent": "curl/8.5.0", "accept": "*/*"},
			"size":        80,
		},
		"upstream_uri":    "/orders?x=1",
		"upstream_status": "",
		"response":        map[string]any{"status": status, "headers": map[string]any{"content-type": "application/json; charset=utf-8"}, "size": 200},
		"latencies":       map[string]any{"kong": 1, "proxy": -1, "request": 2},
		"tries":           []any{},
		"route":           map[string]any{"id": "r-1", "name": "orders", "paths": []any{"/orders"}},
		"service":         map[string]any{"id": "s-1", "name": "shop", "host": "127.0.0.1", "port": 9000},
		"client_ip":       "203.0.113.7",
		"started_at":      1.7645e12,
	}
	if version >= "3.5" {
		m["request"].(map[string]any)["id"] = "4c2d7e0f9a1b4c3d8e7f6a5b4c3d2e1f"
	}
	if version >= "3.7" {
		m["workspace"] = "0dc6f45b-8f8d-40d2-a504-473544ee190b"
		m["workspace_name"] = "default"
		m["latencies"].(map[string]any)["receive"] = 0
	}
	if version >= "3.9" {
		m["source"] = "kong"
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func reqHeaders(m map[string]any) map[string]any {
	return m["request"].(map[string]any)["headers"].(map[string]any)
}
func respHeaders(m map[string]any) map[string]any {
	return m["response"].(map[string]any)["headers"].(map[string]any)
}
func proxied(m map[string]any) {
	m["source"] = "upstream"
	m["upstream_status"] = fmt.Sprint(m["response"].(map[string]any)["status"])
	m["latencies"].(map[string]any)["proxy"] = 3
	m["tries"] = []any{map[string]any{"ip": "127.0.0.1", "port": 9000, "balancer_latency": 0}}
}

func classifyEntry(t *testing.T, raw []byte, source string, p Policy) []event.Event {
	t.Helper()
	var e kongentry.Entry
	require.NoError(t, kongentry.Decode(raw, &e))
	in := &Input{Entry: &e, NodeID: "node-1", Now: time.Unix(1764500000, 0)}
	if NeedsSource(&e) {
		in.Source = NormalizeSource(source)
	}
	return New(p, &seqIDs{}).Classify(in, nil)
}

func TestClassifiesBundledPluginRejections(t *testing.T) {
	type want struct {
		typ    event.Type
		sev    event.Severity
		detail event.Detail
	}
	cases := []struct {
		name string
		// source is what kong.response.get_source answers on Kong < 3.9.
		source string
		status int
		mutate func(m map[string]any)
		want   []want
	}{
		{"key-auth without a key is a missing-credential key-auth failure", "exit", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = "Key"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "key-auth", Reason: "missing_credentials"}}}},
		{"key-auth with a wrong key in a header is an invalid-credential failure with a fingerprint", "exit", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = "Key"
			reqHeaders(m)["apikey"] = "wrong-key"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "key-auth", Reason: "invalid_credentials", Credential: "header:apikey",
			Identity: &event.Identity{Kind: "apikey_fingerprint", Value: redact.New(nil, []byte("k")).Fingerprint("wrong-key")}}}}},
		{"basic-auth with bad credentials", "exit", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = `Basic realm="service"`
			reqHeaders(m)["authorization"] = "REDACTED"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "basic-auth", Reason: "invalid_credentials", Credential: "header:authorization"}}}},
		{"jwt with an invalid token", "exit", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = `Bearer error="invalid_token"`
			reqHeaders(m)["authorization"] = "REDACTED"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "jwt", Reason: "invalid_token", Credential: "header:authorization"}}}},
		{"oauth2 with an expired token", "exit", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = `Bearer error="invalid_token", error_description="The access token is invalid or has expired"`
			reqHeaders(m)["authorization"] = "REDACTED"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "oauth2", Reason: "invalid_token", Credential: "header:authorization"}}}},
		{"hmac-auth without a signature", "error", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = "hmac"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "hmac-auth", Reason: "missing_credentials"}}}},
		{"ldap-auth", "error", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = `LDAP realm="kong"`
			reqHeaders(m)["authorization"] = "REDACTED"
		}, []want{{event.AuthFailure, event.Low, event.Detail{Mechanism: "ldap-auth", Reason: "invalid_credentials", Credential: "header:authorization"}}}},
		{"acl denying an authenticated consumer", "error", 403, func(m map[string]any) {
			m["consumer"] = map[string]any{"id": "c-1", "username": "alice"}
			m["authenticated_entity"] = map[string]any{"id": "cred-1"}
		}, []want{{event.AccessDenied, event.Medium, event.Detail{Control: "acl"}}}},
		{"rate-limiting's 429 with its headers", "error", 429, func(m map[string]any) {
			h := respHeaders(m)
			h["ratelimit-limit"] = "5"
			h["ratelimit-remaining"] = "0"
			h["ratelimit-reset"] = "42"
			h["retry-after"] = "42"
			h["x-ratelimit-limit-minute"] = "5"
			h["x-ratelimit-remaining-minute"] = "0"
		}, []want{{event.RateLimited, event.Low, event.Detail{RateLimit: &event.RateLimit{Limit: 5, Remaining: 0, Reset: 42, RetryAfter: 42, Period: "minute"}}}}},
		{"rate-limiting with an operator-chosen status", "error", 503, func(m map[string]any) {
			h := respHeaders(m)
			h["ratelimit-limit"] = "5"
			h["ratelimit-remaining"] = "0"
			h["retry-after"] = "7"
		}, []want{{event.RateLimited, event.Low, event.Detail{RateLimit: &event.RateLimit{Limit: 5, Remaining: 0, RetryAfter: 7}}}}},
		{"request-size-limiting's 413", "error", 413, nil,
			[]want{{event.RequestRejected, event.Low, event.Detail{Control: "request-size-limiting"}}}},
		{"no route matched", "exit", 404, func(m map[string]any) {
			delete(m, "route")
			delete(m, "service")
			delete(m, "tries")
			m["upstream_uri"] = ""
		}, []want{{event.RouteNotFound, event.Low, event.Detail{}}}},
		{"an upstream 502 through Kong's balancer is a gateway error", "error", 502, func(m map[string]any) {
			m["upstream_status"] = "502"
			m["tries"] = []any{map[string]any{"ip": "127.0.0.1", "port": 9000, "state": "failed", "code": 502}}
		}, []want{{event.GatewayError, event.Medium, event.Detail{UpstreamStatus: "502", Tries: 1}}}},
		{"an upstream's own 500 is an upstream error", "service", 500, proxied,
			[]want{{event.UpstreamError, event.Low, event.Detail{UpstreamStatus: "500", Tries: 1}}}},
		{"an upstream's own 401 is the application's business", "service", 401, proxied, nil},
		{"an upstream's own 403 is the application's business", "service", 403, proxied, nil},
		{"an ordinary 200 is no event", "service", 200, proxied, nil},
	}
	for _, version := range []string{"3.4", "3.9"} {
		for _, c := range cases {
			t.Run(version+"/"+c.name, func(t *testing.T) {
				mutate := c.mutate
				raw := entry(version, c.status, func(m map[string]any) {
					if mutate != nil {
						mutate(m)
					}
					if version < "3.9" {
						delete(m, "source")
					}
				})
				evs := classifyEntry(t, raw, c.source, Policy{Redactor: redact.New(nil, []byte("k"))})
				require.Len(t, evs, len(c.want))
				for i, w := range c.want {
					assert.Equal(t, w.typ, evs[i].Type)
					assert.Equal(t, w.sev, evs[i].Severity)
					assert.Equal(t, w.detail, evs[i].Detail)
					assert.Equal(t, c.status, evs[i].Response.Status)
					assert.Equal(t, "203.0.113.7", evs[i].Client.IP)
					assert.Equal(t, "node-1", evs[i].Kong.NodeID)
					if version >= "3.5" {
						assert.Equal(t, "4c2d7e0f9a1b4c3d8e7f6a5b4c3d2e1f", evs[i].Request.ID)
					}
				}
			})
		}
	}
}

func TestSourceIsAskedOnlyForErrorsTheEntryLeavesOpen(t *testing.T) {
	for _, c := range []struct {
		name    string
		version string
		status  int
		want    bool
	}{
		{"a 200 on Kong 3.4", "3.4", 200, false},
		{"a 302 on Kong 3.4", "3.4", 302, false},
		{"a 401 on Kong 3.4", "3.4", 401, true},
		{"a 401 on Kong 3.9", "3.9", 401, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e kongentry.Entry
			require.NoError(t, kongentry.Decode(entry(c.version, c.status, nil), &e))
			assert.Equal(t, c.want, NeedsSource(&e))
		})
	}
}

func TestEventsCarryNoSecrets(t *testing.T) {
	secrets := []string{"s3cr3t-key-value", "tok-123456789", "pa55w0rd!", "refresh-abcdef"}
	raw := entry("3.9", 401, func(m map[string]any) {
		m["request"].(map[string]any)["uri"] = "/orders?apikey=" + secrets[0] + "&access_token=" + secrets[1] + "&password=" + secrets[2] + "&refresh_token=" + secrets[3] + "&page=2"
		reqHeaders(m)["apikey"] = secrets[0]
		respHeaders(m)["www-authenticate"] = "Key"
	})
	evs := classifyEntry(t, raw, "", Policy{LogAllRequests: true})
	require.NotEmpty(t, evs)
	for _, ev := range evs {
		out := string(ev.AppendJSON(nil))
		for _, s := range secrets {
			assert.NotContains(t, out, s)
		}
		assert.Contains(t, out, "page=2")
	}
}

func TestPolicyShapesWhatIsEmitted(t *testing.T) {
	raw := entry("3.9", 401, func(m map[string]any) { respHeaders(m)["www-authenticate"] = "Key" })
	t.Run("include_headers copies named headers, never secret ones", func(t *testing.T) {
		withHeaders := entry("3.9", 401, func(m map[string]any) {
			respHeaders(m)["www-authenticate"] = "Key"
			reqHeaders(m)["x-tenant"] = "acme"
			reqHeaders(m)["apikey"] = "k-123"
		})
		evs := classifyEntry(t, withHeaders, "", Policy{IncludeHeaders: []string{"X-Tenant", "apikey", "accept", "x-missing"}})
		require.Len(t, evs, 1)
		assert.Equal(t, map[string]string{"x-tenant": "acme", "accept": "*/*"}, evs[0].Request.Headers)
	})
	t.Run("a disabled type is not emitted", func(t *testing.T) {
		assert.Empty(t, classifyEntry(t, raw, "", Policy{Disabled: map[event.Type]bool{event.AuthFailure: true}}))
	})
	t.Run("a severity override applies", func(t *testing.T) {
		evs := classifyEntry(t, raw, "", Policy{SeverityOverrides: map[event.Type]event.Severity{event.AuthFailure: event.High}})
		require.Len(t, evs, 1)
		assert.Equal(t, event.High, evs[0].Severity)
	})
	t.Run("log_all_requests adds request.logged to every request", func(t *testing.T) {
		ok := entry("3.9", 200, proxied)
		evs := classifyEntry(t, ok, "", Policy{LogAllRequests: true})
		require.Len(t, evs, 1)
		assert.Equal(t, event.RequestLogged, evs[0].Type)
	})
	t.Run("a slow request is latency.slow", func(t *testing.T) {
		slow := entry("3.9", 200, func(m map[string]any) { proxied(m); m["latencies"].(map[string]any)["request"] = 2500 })
		evs := classifyEntry(t, slow, "", Policy{LatencyThresholdMS: 1000})
		require.Len(t, evs, 1)
		assert.Equal(t, event.LatencySlow, evs[0].Type)
	})
	t.Run("a mutation on the admin API route is config.change", func(t *testing.T) {
		post := entry("3.9", 201, func(m map[string]any) {
			proxied(m)
			m["request"].(map[string]any)["method"] = "POST"
			m["request"].(map[string]any)["uri"] = "/admin/services/shop/plugins"
			m["consumer"] = map[string]any{"id": "c-9", "username": "ops-bot"}
		})
		evs := classifyEntry(t, post, "", Policy{AdminAPI: true})
		require.Len(t, evs, 1)
		assert.Equal(t, event.ConfigChange, evs[0].Type)
		assert.Equal(t, "ops-bot", evs[0].Detail.Actor)
		assert.Equal(t, "/admin/services/shop/plugins", evs[0].Detail.EntityPath)
		get := entry("3.9", 200, func(m map[string]any) { proxied(m) })
		assert.Empty(t, classifyEntry(t, get, "", Policy{AdminAPI: true}))
	})
}

func TestTheGuardsVerdictBecomesEvents(t *testing.T) {
	blocked := entry("3.9", 403, func(m map[string]any) {
		m["gatewatch"] = map[string]any{"action": "blocked", "control": "gatewatch-guard",
			"findings": []any{map[string]any{"rule_id": "sqli-001", "class": "sqli", "severity": "high", "location": "query:id"}}}
	})
	evs := classifyEntry(t, blocked, "", Policy{})
	require.Len(t, evs, 2)
	assert.Equal(t, event.AccessDenied, evs[0].Type)
	assert.Equal(t, "gatewatch-guard", evs[0].Detail.Control)
	assert.Equal(t, event.AttackDetected, evs[1].Type)
	assert.Equal(t, "blocked", evs[1].Detail.Action)
	assert.Equal(t, "guard", evs[1].Detail.Engine)
	assert.Equal(t, event.High, evs[1].Severity)

	logged := entry("3.9", 200, func(m map[string]any) {
		proxied(m)
		m["gatewatch"] = map[string]any{"action": "logged",
			"findings": []any{map[string]any{"rule_id": "xss-001", "class": "xss", "severity": "medium", "location": "query:q"}}}
	})
	evs = classifyEntry(t, logged, "", Policy{})
	require.Len(t, evs, 1)
	assert.Equal(t, event.AttackDetected, evs[0].Type)
	assert.Equal(t, "logged", evs[0].Detail.Action)
}

func FuzzDecodeAndClassify(f *testing.F) {
	f.Add(entry("3.9", 401, nil))
	f.Add(entry("3.4", 403, nil))
	f.Add([]byte(`{"response":{"status":404},"gatewatch":{"action":"blocked"}}`))
	f.Add([]byte(`{"request":{"headers":{"a":[1,2]}},"response":{"status":500},"upstream_status":502,"tries":{}}`))
	c := New(Policy{LogAllRequests: true, LatencyThresholdMS: 1, AdminAPI: true}, &seqIDs{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e kongentry.Entry
		if kongentry.Decode(data, &e) != nil {
			return
		}
		for _, ev := range c.Classify(&Input{Entry: &e, Source: "kong"}, nil) {
			out := ev.AppendJSON(nil)
			if !json.Valid(out) {
				t.Fatalf("invalid event JSON %q", out)
			}
			if strings.Contains(string(out), "\n") {
				t.Fatal("newline in event")
			}
		}
	})
}
