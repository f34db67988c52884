package monitor

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// secretHeaders and secretParams are every place a credential can travel
// that gatewatch promises to redact (docs/events.md, "Secrets"), plus one
// operator-added name.
var (
	secretHeaders = []string{"authorization", "proxy-authorization", "cookie", "apikey", "x-api-key", "x-auth-token", "x-tenant-secret"}
	secretParams  = []string{"apikey", "api_key", "access_token", "token", "password", "secret", "client_secret", "code", "refresh_token", "jwt", "x-tenant-secret"}
)

// randomSecret makes a secret that is unmistakable in output; some look
// like attacks, so that detection fires on them and would quote them in a
// finding's fragment if redaction failed.
func randomSecret(r *rand.Rand) string {
	const alnum = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	s := "S3CR" + string(b)
	switch r.IntN(4) {
	case 0:
		return s + "' OR '1'='1"
	case 1:
		return s + "<script>alert(1)</script>"
	case 2:
		return s + "${jndi:ldap://x}"
	}
	return s
}

// A property: for random entries carrying secrets in every redacted place,
// no published event — in any format — contains any of the secrets.
func TestNoSecretLeavesInAnyEvent(t *testing.T) {
	engine, err := detect.New(nil)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	statuses := []int{200, 401, 403, 429, 500}
	for i := 0; i < 600; i++ {
		format := []string{"native", "ocsf", "ecs", "cef"}[i%4]
		var secrets []string
		headers := map[string]any{"host": "api.example.com", "user-agent": "curl/8"}
		for _, h := range secretHeaders {
			s := randomSecret(r)
			secrets = append(secrets, s)
			if h == "cookie" {
				headers[h] = "session=" + s + "; theme=dark"
			} else {
				headers[h] = s
			}
		}
		q := url.Values{"page": {"2"}}
		for _, p := range secretParams {
			s := randomSecret(r)
			secrets = append(secrets, s)
			q.Set(p, s)
		}
		status := statuses[r.IntN(len(statuses))]
		entry := map[string]any{
			"request":   map[string]any{"uri": "/orders?" + q.Encode(), "method": "GET", "headers": headers},
			"response":  map[string]any{"status": status, "headers": map[string]any{"www-authenticate": "Key", "set-cookie": "sid=" + secrets[0]}},
			"latencies": map[string]any{"kong": 1, "proxy": -1, "request": 2},
			"tries":     []any{}, "route": map[string]any{"id": "r", "name": "orders"},
			"client_ip": "198.51.100.9", "source": "kong",
		}
		raw, err := json.Marshal(entry)
		require.NoError(t, err)

		pub := &fakePublisher{}
		rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "t", Engine: engine, FingerprintKey: []byte("k")}
		c := New(rt)().(*Config)
		c.APIKeyNames, c.Redact, c.Detect, c.Paranoia, c.LogAllRequests, c.Format =
			[]string{"apikey"}, []string{"X-Tenant-Secret"}, true, 1+r.IntN(2), true, format
		require.NoError(t, c.Prepare())
		c.process(string(raw), fakeKong{source: "exit"})

		msgs := pub.all()
		require.NotEmpty(t, msgs, "log_all_requests makes at least one event")
		for _, m := range msgs {
			out := string(m.Value)
			for _, h := range m.Headers {
				out += string(h.Value)
			}
			for _, s := range secrets {
				require.NotContains(t, out, s[:20], "case %d (%s, status %d): a secret leaked", i, format, status)
				require.NotContains(t, strings.ToLower(out), strings.ToLower(s[:20]))
				require.NotContains(t, out, url.QueryEscape(s)[:20])
			}
		}
	}
	t.Logf("checked %d random entries", 600)
}
