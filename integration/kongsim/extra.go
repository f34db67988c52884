package kongsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"net/http"
	"strings"
	"time"
)

// extraBundled returns the bundled plugins beyond key-auth and acl.
func extraBundled(v kongVersion) []*bundledPlugin {
	return []*bundledPlugin{
		basicAuthPlugin(v), jwtPlugin(v), hmacAuthPlugin(v), ipRestrictionPlugin(v),
		botDetectionPlugin(v), rateLimitingPlugin(v), requestSizeLimitingPlugin(v),
		requestTerminationPlugin(v), correlationIDPlugin(v),
	}
}

func basicAuthPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"anonymous":{"type":"string"}},
		{"hide_credentials":{"type":"boolean","required":true,"default":false}}`
	if v.atLeast(6) {
		schema += `,{"realm":{"type":"string","required":true,"default":"service"}}`
	}
	schema += `]}`
	return &bundledPlugin{name: "basic-auth", priority: 1100, schema: schema, access: func(rs *reqState, conf map[string]any) {
		challenge := http.Header{"Www-Authenticate": {`Basic realm="kong"`}}
		bad := "Invalid authentication credentials"
		if v.atLeast(6) {
			challenge = http.Header{"Www-Authenticate": {`Basic realm="` + confString(conf, "realm") + `"`}}
			bad = "Unauthorized"
		}
		fail := func(msg string) {
			if !anonymousOr(rs, conf) {
				rs.fail(401, msg, challenge)
			}
		}
		header := "Proxy-Authorization"
		value := rs.r.Header.Get(header)
		if value == "" {
			header = "Authorization"
			value = rs.r.Header.Get(header)
		}
		if value == "" {
			fail("Unauthorized")
			return
		}
		scheme, b64, ok := strings.Cut(strings.TrimSpace(value), " ")
		if !ok || !strings.EqualFold(scheme, "basic") {
			fail(bad)
			return
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			fail(bad)
			return
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		cred := rs.cfg.decl.basicauth[user]
		if !ok || cred == nil || !hmac.Equal([]byte(cred.password), []byte(pass)) {
			fail(bad)
			return
		}
		if confBool(conf, "hide_credentials") {
			rs.upHeader.Del(header)
		}
		setConsumer(rs, cred.consumer, cred)
	}}
}

func hmacAuthPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"hide_credentials":{"type":"boolean","required":true,"default":false}},
		{"clock_skew":{"type":"number","default":300,"gt":0}},
		{"anonymous":{"type":"string"}},
		{"validate_request_body":{"type":"boolean","required":true,"default":false}},
		{"enforce_headers":{"type":"array","elements":{"type":"string"},"default":[]}},
		{"algorithms":{"type":"array","elements":{"type":"string","one_of":["hmac-sha1","hmac-sha256","hmac-sha384","hmac-sha512"]},"default":["hmac-sha1","hmac-sha256","hmac-sha384","hmac-sha512"]}}`
	if v.atLeast(7) {
		schema += `,{"realm":{"type":"string","required":false}}`
	}
	schema += `]}`
	return &bundledPlugin{name: "hmac-auth", priority: 1030, schema: schema, access: func(rs *reqState, conf map[string]any) {
		challenge := http.Header{"Www-Authenticate": {"hmac"}}
		if realm := confString(conf, "realm"); realm != "" {
			challenge = http.Header{"Www-Authenticate": {`hmac realm="` + realm + `"`}}
		}
		fail := func(msg string) {
			if !anonymousOr(rs, conf) {
				rs.fail(401, msg, challenge)
			}
		}
		value := rs.r.Header.Get("Proxy-Authorization")
		if value == "" {
			value = rs.r.Header.Get("Authorization")
		}
		if value == "" {
			fail("Unauthorized")
			return
		}
		skew, _ := confNum(conf, "clock_skew")
		date := rs.r.Header.Get("X-Date")
		if date == "" {
			date = rs.r.Header.Get("Date")
		}
		t, err := http.ParseTime(date)
		if err != nil || absDuration(time.Since(t)) > time.Duration(skew*float64(time.Second)) {
			fail("HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication")
			return
		}
		params := parseHMACParams(value)
		cred := rs.cfg.decl.hmac[params["username"]]
		newHash := map[string]func() hash.Hash{"hmac-sha1": sha1.New, "hmac-sha256": sha256.New, "hmac-sha384": sha512.New384, "hmac-sha512": sha512.New}[params["algorithm"]]
		if params["signature"] == "" || cred == nil || newHash == nil || !contains(confStrings(conf, "algorithms"), params["algorithm"]) {
			fail("HMAC signature cannot be verified")
			return
		}
		headers := strings.Fields(params["headers"])
		var lines []string
		for _, h := range headers {
			if h == "request-line" {
				lines = append(lines, rs.r.Method+" "+rs.r.RequestURI+" "+rs.r.Proto)
				continue
			}
			lines = append(lines, h+": "+rs.r.Header.Get(h))
		}
		mac := hmac.New(newHash, []byte(cred.secret))
		mac.Write([]byte(strings.Join(lines, "\n")))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(params["signature"])) {
			fail("HMAC signature does not match")
			return
		}
		setConsumer(rs, cred.consumer, cred)
	}}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// parseHMACParams reads `hmac username="u", algorithm="…", headers="…",
// signature="…"`.
func parseHMACParams(v string) map[string]string {
	out := map[string]string{}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "hmac") {
		return out
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			out[strings.ToLower(k)] = strings.Trim(val, `"`)
		}
	}
	return out
}

func requestTerminationPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"status_code":{"type":"integer","required":true,"default":503,"between":[100,599]}},
		{"message":{"type":"string"}},
		{"content_type":{"type":"string"}},
		{"body":{"type":"string"}},
		{"echo":{"type":"boolean","required":true,"default":false}},
		{"trigger":{"type":"string"}}]}`
	defaults := map[int]string{401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
		500: "An unexpected error occurred", 502: "Bad Gateway", 503: "Service unavailable"}
	return &bundledPlugin{name: "request-termination", priority: 2, schema: schema, access: func(rs *reqState, conf map[string]any) {
		if trig := confString(conf, "trigger"); trig != "" {
			if rs.r.Header.Get(trig) == "" && !rs.r.URL.Query().Has(trig) {
				return
			}
		}
		code, _ := confNum(conf, "status_code")
		status := int(code)
		if confBool(conf, "echo") {
			entry := map[string]any{"request": map[string]any{
				"method": rs.r.Method, "uri": rs.r.RequestURI, "headers": headerTable(rs.r.Header),
				"query": queryTable(rs.r.URL.RawQuery), "raw_body": string(rs.body()),
			}}
			body, _ := cjsonEncode(entry)
			rs.exit = exitTable(status, string(body), nil)
			rs.exited = true
			return
		}
		if body := confString(conf, "body"); body != "" {
			h := http.Header{}
			if ct := confString(conf, "content_type"); ct != "" {
				h.Set("Content-Type", ct)
			}
			rs.exit = &exitResponse{status: status, body: []byte(body), header: h}
			rs.exited = true
			return
		}
		msg := confString(conf, "message")
		if msg == "" {
			msg = defaults[status]
		}
		if msg == "" {
			rs.exit = &exitResponse{status: status, header: http.Header{}}
		} else {
			b, _ := cjsonEncode(map[string]any{"message": msg})
			rs.exit = exitTable(status, string(b), nil)
		}
		rs.exited = true
	}}
}
