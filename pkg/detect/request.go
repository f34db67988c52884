package detect

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strings"
)

// inspectRequest walks every user-controlled part of r: path, query
// parameters, headers, cookies and, when present, the body.
func (s *state) inspectRequest(r *Request) {
	if r.Path != "" {
		inspectValue(s, field{kind: locPath}, r.Path, optsPlain)
		inspectSegments(s, r.Path)
	}
	if r.RawQuery != "" {
		inspectPairs(s, locQuery, r.RawQuery, '&')
	}
	for _, h := range r.Headers {
		s.inspectHeader(h)
	}
	if len(r.Body) > 0 {
		s.inspectBody(r.Body, r.ContentType)
	}
}

// inspectPairs inspects name=value pairs separated by sep (query strings,
// form bodies, cookie headers). Names are inspected too: they carry NoSQL
// operators and prototype pollution.
func inspectPairs[S ~string | ~[]byte](s *state, kind locMask, raw S, sep byte) {
	for len(raw) > 0 && s.fields > 0 && s.budget > 0 {
		var pair S
		if i := indexByte(raw, sep); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, raw[:0]
		}
		if kind == locCookie {
			for len(pair) > 0 && pair[0] == ' ' {
				pair = pair[1:]
			}
		}
		if len(pair) == 0 {
			continue
		}
		name, value := pair, pair[:0]
		if i := indexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		}
		o := optsQuery
		if kind == locCookie {
			o = optsPlain
		}
		// The name is not retained past this call (findings build their
		// location strings anew), so a body's bytes need no copy.
		n := asString(name)
		f := field{kind: kind, name: n}
		if len(value) == 0 {
			// A bare token ("?<script>" or "?../../etc/passwd") is the value.
			value = name
		} else {
			inspectValue(s, field{kind: locName, parent: kind, name: n}, name, o)
		}
		inspectValue(s, f, value, o)
		if len(value) != len(pair) && syntaxInName(name) {
			// A "name" with quotes, spaces or brackets is a payload the '='
			// cut in two ("'admin', '1'='1'"): inspect it whole as well.
			inspectValue(s, f, pair, o)
		}
	}
}

// syntaxInName reports whether a raw parameter name holds bytes no form
// field name needs: quotes, parentheses, angle brackets, semicolons or
// spaces, literal or percent-encoded.
func syntaxInName[S ~string | ~[]byte](name S) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\'', '"', '`', '(', ')', '<', '>', ';', ' ', '+':
			return true
		case '%':
			if i+2 < len(name) {
				switch {
				case name[i+1] == '2' && (name[i+2] == '0' || name[i+2] == '2' || name[i+2] == '7' || name[i+2] == '8' || name[i+2] == '9'),
					name[i+1] == '3' && (name[i+2]|0x20 == 'b' || name[i+2]|0x20 == 'c' || name[i+2]|0x20 == 'e'),
					name[i+1] == '6' && name[i+2] == '0':
					return true
				}
			}
		}
	}
	return false
}

// asString returns s as a string without copying; the result must not be
// retained past the inspection of the request s belongs to.
func asString[S ~string | ~[]byte](s S) string {
	switch v := any(s).(type) {
	case string:
		return v
	case []byte:
		return unsafeString(v)
	}
	return string(s)
}

func indexByte[S ~string | ~[]byte](s S, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func (s *state) inspectHeader(h Header) {
	name := lowerASCII(h.Name)
	if name == "cookie" {
		inspectPairs(s, locCookie, h.Value, ';')
		// A payload may contain ';' itself and be cut by the split above.
		if strings.Count(h.Value, "=") < strings.Count(h.Value, ";")+1 {
			inspectValue(s, field{kind: locHeader, name: name, secret: true}, h.Value, optsPlain)
		}
		return
	}
	if (name == "authorization" || name == "proxy-authorization") && token68Credentials(h.Value) {
		// "Bearer eyJ…" / "Basic dXNlcjpwdw==": a token68 credential has no
		// room for injection syntax (no quote, space, bracket, angle,
		// semicolon or dollar), and each one is new, so skipping it saves a
		// scan of hundreds of bytes per request.
		return
	}
	f := field{kind: locHeader, name: name}
	if protocolHeader(name) {
		f.kind = locProtoHeader
		// Only lookups ("${") and line breaks (also percent-encoded) matter
		// in protocol headers; most requests need no scan of them at all.
		if strings.IndexAny(h.Value, "$%\r\n") < 0 {
			return
		}
	}
	if name == "referer" {
		// A referer is a URL: its query parameters are separate values, the
		// way the application that produced it saw them.
		if p, q, ok := strings.Cut(h.Value, "?"); ok {
			inspectValue(s, f, p, optsPlain)
			inspectRefererQuery(s, f, q)
			return
		}
	}
	inspectValue(s, f, h.Value, optsPlain)
}

func inspectRefererQuery(s *state, f field, q string) {
	for len(q) > 0 && s.fields > 0 {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if _, v, ok := strings.Cut(pair, "="); ok {
			pair = v
		}
		inspectValue(s, f, pair, optsQuery)
	}
}

// token68Credentials reports whether v is an auth scheme and a token68
// credential (RFC 9110 section 11.4): scheme, one space, then letters,
// digits and -._~+/ with trailing '=' padding, and no ".." (a path step).
func token68Credentials(v string) bool {
	sp := strings.IndexByte(v, ' ')
	if sp <= 0 || sp == len(v)-1 {
		return false
	}
	for i := 0; i < sp; i++ {
		if c := v[i] | 0x20; !(c >= 'a' && c <= 'z' || v[i] >= '0' && v[i] <= '9' || v[i] == '-') {
			return false
		}
	}
	tok := strings.TrimRight(v[sp+1:], "=")
	if tok == "" || strings.Contains(tok, "..") {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !token68Byte[tok[i]] {
			return false
		}
	}
	return true
}

var token68Byte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// lowerASCII returns s lower-cased, without allocating when it already is or
// is a common header name.
func lowerASCII(s string) string {
	if l, ok := commonHeaders[s]; ok {
		return l
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// commonHeaders maps the canonical spelling of frequent header names to their
// lower-case form so that lowering them allocates nothing.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, h := range []string{
		"Host", "User-Agent", "Accept", "Accept-Language", "Accept-Encoding", "Referer",
		"Cookie", "Authorization", "Content-Type", "Content-Length", "Connection",
		"Origin", "X-Forwarded-For", "X-Real-IP", "X-Request-Id", "X-Api-Key",
		"If-None-Match", "If-Modified-Since", "Cache-Control", "Pragma", "Upgrade-Insecure-Requests",
		"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
		"Sec-Ch-Ua-Platform", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Correlation-Id",
		"X-Requested-With", "DNT", "TE", "Keep-Alive", "Range", "Via", "Forwarded",
	} {
		m[h] = strings.ToLower(h)
		m[strings.ToLower(h)] = strings.ToLower(h)
	}
	return m
}()

// protocolHeader reports whether a header's value is protocol syntax rather
// than application data (see locProtoHeader).
func protocolHeader(name string) bool {
	switch name {
	case "accept", "accept-encoding", "accept-language", "accept-charset", "connection",
		"cache-control", "pragma", "if-none-match", "if-match", "if-modified-since",
		"if-unmodified-since", "upgrade-insecure-requests", "dnt", "te", "priority",
		"content-length", "keep-alive", "proxy-connection", "sec-ch-ua", "sec-ch-ua-mobile",
		"sec-ch-ua-platform", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest",
		"sec-fetch-user", "sec-gpc", "etag":
		return true
	}
	return false
}

// secretHeader reports whether a header carries credentials, whose value must
// never appear in a fragment.
func secretHeader(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return secretName(name)
}

// secretName reports whether a parameter or field name suggests a credential.
func secretName[S ~string | ~[]byte](name S) bool {
	for _, w := range [...]string{"pass", "secret", "token", "auth", "session", "api-key", "api_key", "apikey", "credential", "signature", "private"} {
		if containsFold(name, w) {
			return true
		}
	}
	return false
}

func containsFold[S ~string | ~[]byte](s S, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// inspectBody dispatches on the content type; a body whose type is unknown
// or that fails to parse is inspected whole.
func (s *state) inspectBody(body []byte, contentType string) {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(lowerASCII(mt))
	switch {
	case mt == "application/x-www-form-urlencoded":
		inspectPairs(s, locBody, body, '&')
		return
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if s.inspectJSON(body) {
			return
		}
	case strings.HasPrefix(mt, "multipart/"):
		if s.inspectMultipart(body, contentType, 0) {
			return
		}
	default:
		// Beacons and sloppy clients send JSON as text/plain or without a type.
		if t := skipSpace(body, 0); t < len(body) && (body[t] == '{' || body[t] == '[') && s.inspectJSON(body) {
			return
		}
	}
	inspectValue(s, field{kind: locBody}, body, optsPlain)
}

func (s *state) inspectMultipart(body []byte, contentType string, depth int) bool {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" || depth >= 2 {
		return false
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var buf [4096]byte
	for parts := 0; parts < 64 && s.fields > 0; parts++ {
		p, err := mr.NextRawPart()
		if err != nil {
			return parts > 0
		}
		name := p.FormName()
		if fn := rawFileName(p); fn != "" {
			inspectValue(s, field{kind: locBody, name: name + ".filename"}, fn, optsPlain)
		}
		n, _ := io.ReadFull(p, buf[:])
		ct := p.Header.Get("Content-Type")
		f := field{kind: locBody, name: name}
		switch {
		case strings.HasPrefix(ct, "application/json"):
			if !s.inspectJSON(buf[:n]) {
				inspectValue(s, f, buf[:n], optsPlain)
			}
		default:
			inspectValue(s, f, buf[:n], optsPlain)
		}
	}
	return true
}

// rawFileName returns a part's filename parameter as the client sent it:
// Part.FileName keeps only its last path element, which would hide
// "../../etc/cron.d/x" from the traversal rules.
func rawFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}

// inspectSegments inspects each path segment that holds more than a plain
// token on its own: REST routes carry parameters as segments, and SQL or
// markup tokenizers read "select 1,2 from x" better without the route
// before it. Findings are still reported at "path".
func inspectSegments(s *state, path string) {
	for len(path) > 0 && s.fields > 0 {
		var seg string
		if i := strings.IndexByte(path, '/'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			seg, path = path, ""
		}
		if !plainToken(seg) {
			inspectValue(s, field{kind: locPath}, seg, optsPlain)
		}
	}
}

func plainToken[S ~string | ~[]byte](seg S) bool {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}
