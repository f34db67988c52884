package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenKongYML has one route per bundled plugin rejection of
// kong-reference §7, and routes whose upstream misbehaves.
func goldenKongYML(upstream string) string {
	return fmt.Sprintf(`_format_version: "3.0"
services:
  - name: app
    url: %[1]s
    routes:
      - name: key-auth
        paths: ["/key-auth"]
        plugins: [{name: key-auth}]
      - name: basic-auth
        paths: ["/basic-auth"]
        plugins: [{name: basic-auth}]
      - name: jwt
        paths: ["/jwt"]
        plugins: [{name: jwt}]
      - name: hmac-auth
        paths: ["/hmac-auth"]
        plugins: [{name: hmac-auth}]
      - name: acl
        paths: ["/acl"]
        plugins:
          - name: key-auth
          - name: acl
            config: {allow: ["admins"]}
      - name: ip-restriction
        paths: ["/ip-restriction"]
        plugins:
          - name: ip-restriction
            config: {deny: ["127.0.0.1"]}
      - name: bot-detection
        paths: ["/bot-detection"]
        plugins:
          - name: bot-detection
            config: {deny: ["evilbot"]}
      - name: rate-limiting
        paths: ["/rate-limiting"]
        plugins:
          - name: rate-limiting
            config: {minute: 1, policy: local}
      - name: request-size-limiting
        paths: ["/request-size-limiting"]
        plugins:
          - name: request-size-limiting
            config: {allowed_payload_size: 1, size_unit: kilobytes}
      - name: request-termination
        paths: ["/request-termination"]
        plugins:
          - name: request-termination
            config: {status_code: 403}
      - name: upstream
        paths: ["/upstream"]
  - name: dead
    url: http://127.0.0.1:%[2]d
    routes:
      - name: dead
        paths: ["/dead"]
consumers:
  - username: alice
    keyauth_credentials: [{key: alice-key}]
    acls: [{group: customers}]
plugins:
  - name: gatewatch
`, upstream, deadPort())
}

// deadPort is a port nothing listens on.
func deadPort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

type goldenCase struct {
	name    string
	method  string
	path    string
	headers map[string]string
	body    string
	status  int
	times   int // send this many times; the last one is the case
}

func goldenCases() []goldenCase {
	badJWT := "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"mallory-app"}`)) + ".c2ln"
	return []goldenCase{
		{name: "key-auth-missing", path: "/key-auth", status: 401},
		{name: "key-auth-invalid", path: "/key-auth", headers: map[string]string{"apikey": "guess-1"}, status: 401},
		{name: "basic-auth-invalid", path: "/basic-auth", headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("mallory:pw"))}, status: 401},
		{name: "jwt-missing", path: "/jwt", status: 401},
		{name: "jwt-unknown-issuer", path: "/jwt?jwt=" + badJWT, status: 401},
		{name: "hmac-auth-missing", path: "/hmac-auth", status: 401},
		{name: "acl-denied", path: "/acl", headers: map[string]string{"apikey": "alice-key"}, status: 403},
		{name: "ip-restriction-denied", path: "/ip-restriction", status: 403},
		{name: "bot-detection-denied", path: "/bot-detection", headers: map[string]string{"User-Agent": "evilbot/1.0"}, status: 403},
		{name: "rate-limited", path: "/rate-limiting", status: 429, times: 2},
		{name: "request-size-limited", method: http.MethodPost, path: "/request-size-limiting", body: strings.Repeat("x", 4096), status: 413},
		{name: "request-terminated", path: "/request-termination", status: 403},
		{name: "route-not-found", path: "/no/such/route", status: 404},
		{name: "upstream-500", path: "/upstream/fail", status: 500},
		{name: "upstream-401-is-not-kongs", path: "/upstream/deny", status: 401},
		{name: "gateway-502", path: "/dead", status: 502},
	}
}

// Each bundled plugin's rejection, produced by kongsim at Kong 3.4 and 3.9,
// becomes the expected event, compared field by field with
// testdata/golden/<version>/<case>.json (volatile fields normalised).
func TestBundledRejectionsClassifyToGoldenEvents(t *testing.T) {
	for _, version := range []string{"3.4", "3.9"} {
		t.Run("kong "+version, func(t *testing.T) {
			s := startStack(t, stackOptions{kongVersion: version, kongYML: goldenKongYML, upstream: goldenUpstream})
			client := &http.Client{Timeout: 10 * time.Second}
			for _, c := range goldenCases() {
				n := max(c.times, 1)
				var resp *http.Response
				for i := 0; i < n; i++ {
					method := c.method
					if method == "" {
						method = http.MethodGet
					}
					req, err := http.NewRequest(method, s.gw.URL()+c.path, strings.NewReader(c.body))
					require.NoError(t, err)
					req.Header.Set("X-Golden-Case", c.name)
					for k, v := range c.headers {
						req.Header.Set(k, v)
					}
					resp, err = client.Do(req)
					require.NoError(t, err)
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				require.Equal(t, c.status, resp.StatusCode, c.name)
			}
			require.NoError(t, s.gw.WaitIdle(context.Background()))

			// One request of each case was a rejection; the rate-limited
			// case's first request passed. Count what to wait for.
			want := 0
			for _, c := range goldenCases() {
				if c.name != "upstream-401-is-not-kongs" {
					want++
				}
			}
			evs, _ := readEvents(t, s.brokers, want, time.Second)
			byCase := map[string][]event.Event{}
			for _, ev := range evs {
				byCase[caseOf(ev)] = append(byCase[caseOf(ev)], ev)
			}
			for _, c := range goldenCases() {
				got := normalise(byCase[c.name])
				path := filepath.Join("testdata", "golden", version, c.name+".json")
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, got, 0o644))
					continue
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "golden file (run with -update to create)")
				assert.JSONEq(t, string(want), string(got), "%s at Kong %s", c.name, version)
			}
		})
	}
}

// goldenUpstream answers /upstream/fail with 500 and /upstream/deny with
// its own 401, like an application would.
func goldenUpstream(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/fail"):
		w.WriteHeader(http.StatusInternalServerError)
	case strings.HasSuffix(r.URL.Path, "/deny"):
		w.Header().Set("WWW-Authenticate", `Bearer realm="app"`)
		w.WriteHeader(http.StatusUnauthorized)
	default:
		fmt.Fprint(w, "ok")
	}
}

// caseOf recovers the golden case of an event from its route and request:
// every case has a distinct route and path, and the user agent or query
// says the rest.
func caseOf(ev event.Event) string {
	for _, c := range goldenCases() {
		p := c.path
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if ev.Request.Path != p {
			continue
		}
		switch c.name {
		case "key-auth-missing", "key-auth-invalid":
			if (ev.Detail.Reason == "missing_credentials") != (c.name == "key-auth-missing") {
				continue
			}
		case "jwt-missing", "jwt-unknown-issuer":
			if (ev.Request.Query == "") != (c.name == "jwt-missing") {
				continue
			}
		}
		return c.name
	}
	return "unexpected:" + string(ev.Type) + ":" + ev.Request.Path
}

// normalise removes what differs from run to run and sorts the events by
// type, so that golden files compare meaningfully.
func normalise(evs []event.Event) []byte {
	out := make([]map[string]any, 0, len(evs))
	for _, ev := range evs {
		b := ev.AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err)
		}
		delete(m, "id")
		delete(m, "time")
		kong := m["kong"].(map[string]any)
		delete(kong, "node_id")
		for _, k := range []string{"route", "service"} {
			if r, ok := kong[k].(map[string]any); ok {
				delete(r, "id")
			}
		}
		if w, ok := kong["workspace"]; ok && w != "default" {
			kong["workspace"] = "<workspace id>"
		}
		req := m["request"].(map[string]any)
		if _, ok := req["id"]; ok {
			req["id"] = "<request id>"
		}
		req["host"] = "<proxy host>"
		resp := m["response"].(map[string]any)
		resp["latency"] = "<latency>"
		if c, ok := m["client"].(map[string]any)["consumer"].(map[string]any); ok {
			delete(c, "id")
		}
		if d, ok := m["detail"].(map[string]any); ok {
			if id, ok := d["identity"].(map[string]any); ok && id["kind"] == "apikey_fingerprint" {
				id["value"] = "<fingerprint>"
			}
			if rl, ok := d["rate_limit"].(map[string]any); ok {
				for _, k := range []string{"reset", "retry_after"} {
					if v, ok := rl[k].(float64); ok && v > 0 && v <= 60 {
						rl[k] = "<seconds left in the minute>"
					}
				}
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]["type"]) < fmt.Sprint(out[j]["type"]) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
