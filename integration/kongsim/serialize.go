package kongsim

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// This file builds kong.log.serialize()'s entry (§5) for the modelled
// version and encodes it the way cjson does.

// serializeEntry returns the entry as a Lua-like table.
func (rs *reqState) serializeEntry(extra map[string]any) map[string]any {
	v := rs.g.version
	u := rs.r.RequestURI
	port := rs.port
	reqHeaders := headerTable(rs.requestHeadersNow())
	for _, k := range []string{"authorization", "proxy-authorization"} {
		if _, ok := reqHeaders[k]; ok {
			reqHeaders[k] = "REDACTED"
		}
	}
	request := map[string]any{
		"uri":         u,
		"url":         rs.scheme() + "://" + rs.host + ":" + strconv.Itoa(port) + u,
		"querystring": queryTable(rs.r.URL.RawQuery),
		"method":      rs.r.Method,
		"headers":     reqHeaders,
		"size":        float64(rs.requestSize()),
	}
	if v.atLeast(5) {
		request["id"] = rs.id
	}
	respHeaders := headerTable(rs.finalHeader)
	entry := map[string]any{
		"request":         request,
		"upstream_uri":    rs.upstreamURIForLog(),
		"upstream_status": rs.upStatusText,
		"response": map[string]any{
			"status":  float64(rs.finalStatus),
			"headers": respHeaders,
			"size":    float64(rs.bytesSent),
		},
		"client_ip":  rs.clientIP,
		"started_at": float64(rs.start.UnixMilli()),
	}
	lat := map[string]any{
		"kong":    float64(rs.kongLatency()),
		"proxy":   float64(-1),
		"request": float64(rs.sent.Sub(rs.start).Microseconds()) / 1000,
	}
	if rs.proxied && !rs.upEnd.IsZero() {
		lat["proxy"] = float64(rs.upEnd.Sub(rs.upStart).Milliseconds())
	}
	if v.atLeast(7) {
		lat["receive"] = float64(0)
		entry["workspace"] = rs.g.wsID
		entry["workspace_name"] = "default"
	}
	entry["latencies"] = lat
	if rs.route != nil {
		tries := make([]any, len(rs.tries))
		for i, t := range rs.tries {
			tries[i] = t
		}
		entry["tries"] = tries
		entry["route"] = rs.routeEntity()
		if rs.svc != nil {
			entry["service"] = rs.serviceEntity()
		}
	}
	if rs.credential != nil {
		entry["authenticated_entity"] = map[string]any{"id": rs.credential.id}
	}
	if rs.consumer != nil {
		entry["consumer"] = consumerEntity(rs.consumer, rs.g.wsID)
	}
	if v.atLeast(9) {
		src := map[string]string{"service": "upstream", "exit": "kong", "error": "kong"}[rs.source()]
		entry["source"] = src
	}
	for k, val := range extra {
		mergeSerializeValue(entry, k, val)
	}
	return entry
}

func mergeSerializeValue(dst map[string]any, k string, v any) {
	if sub, ok := v.(map[string]any); ok {
		if cur, ok := dst[k].(map[string]any); ok {
			for k2, v2 := range sub {
				mergeSerializeValue(cur, k2, v2)
			}
			return
		}
	}
	dst[k] = v
}

func (rs *reqState) upstreamURIForLog() string {
	if rs.route == nil {
		return ""
	}
	uri := rs.upPath
	if rs.upRawQuery != "" {
		uri += "?" + rs.upRawQuery
	}
	return uri
}

func (rs *reqState) kongLatency() int64 {
	if rs.proxied && !rs.upStart.IsZero() {
		return rs.upStart.Sub(rs.start).Milliseconds()
	}
	if !rs.sent.IsZero() {
		return rs.sent.Sub(rs.start).Milliseconds()
	}
	return 0
}

func (rs *reqState) requestSize() int {
	n := len(rs.r.Method) + 1 + len(rs.r.RequestURI) + 1 + len(rs.r.Proto) + 2
	for k, vs := range rs.r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if rs.r.Host != "" && rs.r.Header.Get("Host") == "" {
		n += len("Host: ") + len(rs.r.Host) + 2
	}
	n += 2
	if rs.r.ContentLength > 0 {
		n += int(rs.r.ContentLength)
	}
	return n
}

func (rs *reqState) routeEntity() map[string]any {
	r := rs.route
	m := map[string]any{
		"id": r.id, "protocols": strList(r.protocols), "strip_path": r.stripPath,
		"preserve_host": r.preserveHost, "regex_priority": float64(r.regexPriority),
		"https_redirect_status_code": float64(426), "path_handling": "v0",
		"request_buffering": true, "response_buffering": true,
		"created_at": float64(r.createdAt), "updated_at": float64(r.createdAt), "ws_id": rs.g.wsID,
	}
	if r.name != "" {
		m["name"] = r.name
	}
	if len(r.paths) > 0 {
		m["paths"] = strList(r.paths)
	}
	if len(r.hosts) > 0 {
		m["hosts"] = strList(r.hosts)
	}
	if len(r.methods) > 0 {
		m["methods"] = strList(r.methods)
	}
	if len(r.tags) > 0 {
		m["tags"] = strList(r.tags)
	}
	if r.headers != nil {
		h := map[string]any{}
		for k, v := range r.headers {
			h[k] = strList(v)
		}
		m["headers"] = h
	}
	if r.service != nil {
		m["service"] = map[string]any{"id": r.service.id}
	}
	return m
}

func (rs *reqState) serviceEntity() map[string]any {
	s := rs.svc
	m := map[string]any{
		"id": s.id, "protocol": s.protocol, "host": s.host, "port": float64(s.port),
		"retries": float64(s.retries), "connect_timeout": float64(s.connectTimeout),
		"write_timeout": float64(s.writeTimeout), "read_timeout": float64(s.readTimeout),
		"enabled": true, "created_at": float64(s.createdAt), "updated_at": float64(s.createdAt),
		"ws_id": rs.g.wsID,
	}
	if s.name != "" {
		m["name"] = s.name
	}
	if s.path != "" {
		m["path"] = s.path
	}
	if len(s.tags) > 0 {
		m["tags"] = strList(s.tags)
	}
	return m
}

func consumerEntity(c *consumer, ws string) map[string]any {
	m := map[string]any{"id": c.id, "created_at": float64(c.createdAt), "updated_at": float64(c.createdAt), "ws_id": ws}
	if c.username != "" {
		m["username"] = c.username
	}
	if c.customID != "" {
		m["custom_id"] = c.customID
	}
	if len(c.tags) > 0 {
		m["tags"] = strList(c.tags)
	}
	return m
}

func strList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// cjsonEncode encodes like lua-cjson with Kong's settings: compact, `/`
// escaped as `\/`, numbers with up to 16 significant digits (integral
// values without a fraction).
func cjsonEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeCJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeCJSON(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case float64:
		buf.WriteString(luaNumber(x))
	case int:
		buf.WriteString(strconv.Itoa(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case string:
		cjsonString(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeCJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		buf.WriteByte('{')
		first := true
		for k, e := range x {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			if err := encodeCJSON(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeCJSON(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("cjson: cannot encode %T", v)
	}
	return nil
}

// luaNumber formats like cjson's "%.16g".
func luaNumber(x float64) string {
	s := strconv.FormatFloat(x, 'g', 16, 64)
	if strings.Contains(s, "e+") {
		// %.16g keeps at least two exponent digits, as Go does.
		return s
	}
	return s
}

// cjsonString writes a JSON string as lua-cjson does: `"`, `\`, `/`,
// control characters and DEL escaped, every other byte (including invalid
// UTF-8) copied as is.
func cjsonString(buf *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '/':
			buf.WriteString(`\/`)
		case '\b':
			buf.WriteString(`\b`)
		case '\f':
			buf.WriteString(`\f`)
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xf])
				continue
			}
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}
