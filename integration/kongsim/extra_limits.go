package kongsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file holds the bundled plugins that limit or tag traffic: jwt,
// ip-restriction, bot-detection, rate-limiting, request-size-limiting,
// correlation-id.

func jwtPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"uri_param_names":{"type":"set","elements":{"type":"string"},"default":["jwt"]}},
		{"cookie_names":{"type":"set","elements":{"type":"string"},"default":[]}},
		{"key_claim_name":{"type":"string","default":"iss"}},
		{"secret_is_base64":{"type":"boolean","required":true,"default":false}},
		{"claims_to_verify":{"type":"set","elements":{"type":"string","one_of":["exp","nbf"]}}},
		{"anonymous":{"type":"string"}},
		{"run_on_preflight":{"type":"boolean","required":true,"default":true}},
		{"maximum_expiration":{"type":"number","default":0,"between":[0,31536000]}},
		{"header_names":{"type":"set","elements":{"type":"string"},"default":["authorization"]}}`
	if v.atLeast(7) {
		schema += `,{"realm":{"type":"string","required":false}}`
	}
	schema += `]}`
	return &bundledPlugin{name: "jwt", priority: 1450, schema: schema, access: func(rs *reqState, conf map[string]any) {
		if !confBool(conf, "run_on_preflight") && rs.r.Method == http.MethodOptions {
			return
		}
		base := "Bearer"
		if realm := confString(conf, "realm"); realm != "" {
			base = `Bearer realm="` + realm + `"`
		}
		invalid := base + ` error="invalid_token"`
		if base != "Bearer" {
			invalid = base + `, error="invalid_token"`
		}
		reject := func(body any, challenge string) {
			if anonymousOr(rs, conf) {
				return
			}
			if s, ok := body.(string); ok {
				body = map[string]any{"message": s}
			}
			b, _ := cjsonEncode(body)
			var h http.Header
			if challenge != "" {
				h = http.Header{"Www-Authenticate": {challenge}}
			}
			rs.exit = exitTable(401, string(b), h)
			rs.exited = true
		}
		var tokens []string
		q := queryTable(rs.r.URL.RawQuery)
		for _, name := range confStrings(conf, "uri_param_names") {
			if s, ok := q[name].(string); ok && s != "" {
				tokens = append(tokens, s)
			}
		}
		for _, name := range confStrings(conf, "cookie_names") {
			if c, err := rs.r.Cookie(name); err == nil && c.Value != "" {
				tokens = append(tokens, c.Value)
			}
		}
		for _, name := range confStrings(conf, "header_names") {
			for _, hv := range rs.r.Header.Values(name) {
				if scheme, tok, ok := strings.Cut(strings.TrimSpace(hv), " "); ok && strings.EqualFold(scheme, "bearer") {
					tokens = append(tokens, strings.TrimSpace(tok))
				}
			}
		}
		switch {
		case len(tokens) == 0:
			reject("Unauthorized", base)
			return
		case len(tokens) > 1:
			reject("Multiple tokens provided", invalid)
			return
		}
		parts := strings.Split(tokens[0], ".")
		if len(parts) != 3 {
			reject("Bad token; invalid JSON", invalid)
			return
		}
		var header, claims map[string]any
		for i, dst := range []*map[string]any{&header, &claims} {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
			if err != nil || json.Unmarshal(raw, dst) != nil || *dst == nil {
				reject("Bad token; invalid JSON", invalid)
				return
			}
		}
		claimName := confString(conf, "key_claim_name")
		rawKey, ok := claims[claimName]
		if !ok {
			if hk, ok2 := header[claimName]; ok2 {
				rawKey, ok = hk, true
			}
		}
		if !ok {
			reject("No mandatory '"+claimName+"' in claims", invalid)
			return
		}
		key, ok := rawKey.(string)
		if !ok || key == "" {
			reject("Invalid '"+claimName+"' in claims", invalid)
			return
		}
		cred := rs.cfg.decl.jwt[key]
		if cred == nil {
			reject("No credentials found for given '"+claimName+"'", invalid)
			return
		}
		if alg, _ := header["alg"].(string); alg != cred.algorithm {
			reject("Invalid algorithm", invalid)
			return
		}
		secret := []byte(cred.secret)
		if confBool(conf, "secret_is_base64") {
			if secret, _ = base64.StdEncoding.DecodeString(cred.secret); secret == nil {
				reject("Invalid key/secret", invalid)
				return
			}
		}
		if cred.algorithm != "HS256" {
			reject("Invalid algorithm", invalid)
			return
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			reject("Invalid signature", invalid)
			return
		}
		now := float64(time.Now().Unix())
		errs := map[string]any{}
		for _, c := range confStrings(conf, "claims_to_verify") {
			val, present := claims[c]
			if !present {
				continue
			}
			n, isNum := val.(float64)
			switch {
			case !isNum:
				errs[c] = "must be a number"
			case c == "exp" && n <= now:
				errs[c] = "token expired"
			case c == "nbf" && n > now:
				errs[c] = "token not valid yet"
			}
		}
		if maxExp, _ := confNum(conf, "maximum_expiration"); maxExp > 0 && len(errs) == 0 {
			if exp, ok := claims["exp"].(float64); !ok {
				errs["exp"] = "must be a number"
			} else if exp > now+maxExp {
				errs["exp"] = "exceeds maximum allowed expiration"
			}
		}
		if len(errs) > 0 {
			reject(errs, invalid)
			return
		}
		if cred.consumer == nil {
			b, _ := cjsonEncode(map[string]any{"message": fmt.Sprintf("Could not find consumer for '%s=%s'", claimName, key)})
			rs.exit, rs.exited = exitTable(401, string(b), nil), true
			return
		}
		setConsumer(rs, cred.consumer, cred)
	}}
}

func ipRestrictionPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"allow":{"type":"array","elements":{"type":"string"}}},
		{"deny":{"type":"array","elements":{"type":"string"}}},
		{"status":{"type":"number"}},
		{"message":{"type":"string"}}]}`
	return &bundledPlugin{name: "ip-restriction", priority: 990, schema: schema, access: func(rs *reqState, conf map[string]any) {
		status := 403
		if s, ok := confNum(conf, "status"); ok {
			status = int(s)
		}
		msg := confString(conf, "message")
		if msg == "" {
			msg = "IP address not allowed: " + rs.clientIP
			if !v.atLeast(4) {
				msg = "Your IP address is not allowed"
			}
		}
		ip := net.ParseIP(rs.clientIP)
		if deny := confStrings(conf, "deny"); len(deny) > 0 && ipIn(ip, deny) {
			rs.fail(status, msg, nil)
			return
		}
		if allow := confStrings(conf, "allow"); len(allow) > 0 && !ipIn(ip, allow) {
			rs.fail(status, msg, nil)
		}
	}}
}

func ipIn(ip net.IP, list []string) bool {
	for _, s := range list {
		if !strings.Contains(s, "/") {
			if other := net.ParseIP(s); other != nil && other.Equal(ip) {
				return true
			}
			continue
		}
		if _, n, err := net.ParseCIDR(s); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// knownBots approximates bot-detection's built-in list (user agents of
// crawlers, spiders and HTTP libraries, after uap-core); curl and browsers
// are not on it.
var knownBots = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(googlebot|bingbot|slurp|duckduckbot|baiduspider|yandex\w*|ia_archiver|mj12bot|ahrefsbot|semrushbot|petalbot|dotbot|facebookexternalhit|twitterbot|linkedinbot|pingdom|scrapy|heritrix)\b`),
	regexp.MustCompile(`(Python-urllib|Apache-HttpClient|Google-HTTP-Java-Client|WinHTTP)`),
	regexp.MustCompile(`[A-Za-z0-9]+([Bb]ot|[Ss]pider|[Cc]rawler)[/ ]\d`),
}

func botDetectionPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"allow":{"type":"array","elements":{"type":"string"},"default":[]}},
		{"deny":{"type":"array","elements":{"type":"string"},"default":[]}}]}`
	return &bundledPlugin{name: "bot-detection", priority: 2500, schema: schema, access: func(rs *reqState, conf map[string]any) {
		uas := rs.r.Header.Values("User-Agent")
		if len(uas) == 0 {
			return
		}
		if len(uas) > 1 {
			rs.fail(400, "Only one User-Agent header allowed", nil)
			return
		}
		ua := uas[0]
		for _, a := range confStrings(conf, "allow") {
			if re, err := regexp.Compile(a); err == nil && re.MatchString(ua) {
				return
			}
		}
		for _, d := range confStrings(conf, "deny") {
			if re, err := regexp.Compile(d); err == nil && re.MatchString(ua) {
				rs.fail(403, "Forbidden", nil)
				return
			}
		}
		for _, re := range knownBots {
			if re.MatchString(ua) {
				rs.fail(403, "Forbidden", nil)
				return
			}
		}
	}}
}

func requestSizeLimitingPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"allowed_payload_size":{"type":"integer","default":128}},
		{"size_unit":{"type":"string","required":true,"default":"megabytes","one_of":["megabytes","kilobytes","bytes"]}},
		{"require_content_length":{"type":"boolean","required":true,"default":false}}]}`
	return &bundledPlugin{name: "request-size-limiting", priority: 951, schema: schema, access: func(rs *reqState, conf map[string]any) {
		size, _ := confNum(conf, "allowed_payload_size")
		limit := int64(size) * map[string]int64{"megabytes": 1 << 20, "kilobytes": 1 << 10, "bytes": 1}[confString(conf, "size_unit")]
		status := 413
		if strings.EqualFold(rs.r.Header.Get("Expect"), "100-continue") {
			status = 417
		}
		chunked := len(rs.r.TransferEncoding) > 0
		cl := rs.r.Header.Get("Content-Length")
		switch {
		case cl != "":
			n, err := strconv.ParseInt(cl, 10, 64)
			if err == nil && n > limit {
				rs.fail(status, "Request size limit exceeded", nil)
			}
		case chunked:
			if int64(len(rs.body())) > limit {
				rs.fail(status, "Request size limit exceeded", nil)
			}
		case confBool(conf, "require_content_length"):
			rs.fail(411, "A valid Content-Length header is required", nil)
		}
	}}
}

// rateCounters are rate-limiting's local-policy counters, per gateway.
type rateCounters struct {
	mu sync.Mutex
	m  map[string]int
}

var periods = []struct {
	name string
	secs int64
}{{"second", 1}, {"minute", 60}, {"hour", 3600}, {"day", 86400}, {"month", 2592000}, {"year", 31536000}}

func rateLimitingPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"second":{"type":"number","gt":0}},{"minute":{"type":"number","gt":0}},{"hour":{"type":"number","gt":0}},
		{"day":{"type":"number","gt":0}},{"month":{"type":"number","gt":0}},{"year":{"type":"number","gt":0}},
		{"limit_by":{"type":"string","default":"consumer","one_of":["consumer","credential","ip","service","header","path","consumer-group"]}},
		{"header_name":{"type":"string"}},{"path":{"type":"string"}},
		{"policy":{"type":"string","default":"local","one_of":["local","cluster","redis"]}},
		{"fault_tolerant":{"type":"boolean","required":true,"default":true}},
		{"hide_client_headers":{"type":"boolean","required":true,"default":false}},
		{"error_code":{"type":"number","default":429,"gt":0}},
		{"error_message":{"type":"string","default":"API rate limit exceeded"}},
		{"sync_rate":{"type":"number","default":-1}},
		{"redis_host":{"type":"string"}},{"redis_port":{"type":"integer"}},{"redis_password":{"type":"string"}},
		{"redis_username":{"type":"string"}},{"redis_ssl":{"type":"boolean"}},{"redis_ssl_verify":{"type":"boolean"}},
		{"redis_server_name":{"type":"string"}},{"redis_timeout":{"type":"number"}},{"redis_database":{"type":"integer"}}]}`
	counters := &rateCounters{m: map[string]int{}}
	return &bundledPlugin{name: "rate-limiting", priority: 910, schema: schema, access: func(rs *reqState, conf map[string]any) {
		id := rs.clientIP
		switch confString(conf, "limit_by") {
		case "consumer", "credential":
			if rs.consumer != nil && confString(conf, "limit_by") == "consumer" {
				id = rs.consumer.id
			} else if rs.credential != nil {
				id = rs.credential.id
			}
		case "service":
			if rs.svc != nil {
				id = rs.svc.id
			}
		case "header":
			if h := rs.r.Header.Get(confString(conf, "header_name")); h != "" {
				id = h
			}
		case "path":
			if p := confString(conf, "path"); p != "" && p == rs.r.URL.Path {
				id = p
			}
		}
		now := time.Now().Unix()
		scope := rs.route.id
		type usage struct {
			name             string
			limit, remaining int
			reset            int64
		}
		var usages []usage
		blocked := false
		counters.mu.Lock()
		for _, p := range periods {
			lim, ok := confNum(conf, p.name)
			if !ok {
				continue
			}
			start := now - now%p.secs
			key := fmt.Sprintf("%s|%s|%s|%d", scope, id, p.name, start)
			cur := counters.m[key]
			if int(lim)-cur <= 0 {
				blocked = true
			}
			usages = append(usages, usage{p.name, int(lim), int(math.Max(0, lim-float64(cur)-1)), start + p.secs - now})
		}
		if !blocked {
			for _, p := range periods {
				if _, ok := confNum(conf, p.name); ok {
					counters.m[fmt.Sprintf("%s|%s|%s|%d", scope, id, p.name, now-now%p.secs)]++
				}
			}
		}
		counters.mu.Unlock()
		if len(usages) == 0 {
			return
		}
		if !confBool(conf, "hide_client_headers") {
			stop := usages[0]
			for _, u := range usages {
				title := strings.ToUpper(u.name[:1]) + u.name[1:]
				rs.respHeader.Set("X-RateLimit-Limit-"+title, strconv.Itoa(u.limit))
				rs.respHeader.Set("X-RateLimit-Remaining-"+title, strconv.Itoa(u.remaining))
				if u.remaining < stop.remaining || (u.remaining == stop.remaining && u.reset > stop.reset) {
					stop = u
				}
			}
			rs.respHeader.Set("RateLimit-Limit", strconv.Itoa(stop.limit))
			rs.respHeader.Set("RateLimit-Remaining", strconv.Itoa(stop.remaining))
			rs.respHeader.Set("RateLimit-Reset", strconv.FormatInt(stop.reset, 10))
			if blocked {
				rs.respHeader.Set("Retry-After", strconv.FormatInt(stop.reset, 10))
			}
		}
		if blocked {
			code, _ := confNum(conf, "error_code")
			rs.fail(int(code), confString(conf, "error_message"), nil)
		}
	}}
}

func correlationIDPlugin(v kongVersion) *bundledPlugin {
	schema := `{"type":"record","fields":[
		{"header_name":{"type":"string","default":"Kong-Request-ID"}},
		{"generator":{"type":"string","required":true,"default":"uuid#counter","one_of":["uuid","uuid#counter","tracker"]}},
		{"echo_downstream":{"type":"boolean","required":true,"default":false}}]}`
	var mu sync.Mutex
	workerUUID, counter := newUUID(), 0
	return &bundledPlugin{name: "correlation-id", priority: 100001, schema: schema,
		access: func(rs *reqState, conf map[string]any) {
			name := confString(conf, "header_name")
			id := rs.upHeader.Get(name)
			if id == "" {
				switch confString(conf, "generator") {
				case "uuid":
					id = newUUID()
				case "tracker":
					id = rs.clientIP + "-" + strconv.Itoa(rs.port) + "-" + strconv.FormatInt(rs.start.UnixMicro(), 10) + "-" + rs.id[:8]
				default:
					mu.Lock()
					counter++
					id = workerUUID + "#" + strconv.Itoa(counter)
					mu.Unlock()
				}
				rs.upHeader.Set(name, id)
			}
			rs.mu.Lock()
			rs.serializeV["correlation_id"] = id
			rs.mu.Unlock()
		},
		headerFilter: func(rs *reqState, conf map[string]any) {
			if confBool(conf, "echo_downstream") {
				name := confString(conf, "header_name")
				if id := rs.upHeader.Get(name); id != "" {
					rs.respHeader.Set(name, id)
				}
			}
		},
	}
}
