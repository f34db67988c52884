package kongsim

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// defaultMessages is the status → message table of kong/pdk/response.lua
// used when kong.response.error gets no message.
var defaultMessages = map[int]string{
	400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
	405: "Method not allowed", 408: "Request timeout", 409: "Conflict", 411: "Length required",
	412: "Precondition failed", 413: "Payload too large", 414: "URI too long",
	415: "Unsupported media type", 417: "Expectation failed", 429: "Too many requests",
	500: "An unexpected error occurred", 502: "An invalid response was received from the upstream server",
	503: "The upstream server is currently unavailable", 504: "The upstream server is timing out",
}

// errorResponse is kong.response.error(status, message, headers): the body
// from the template Accept selects (§6.2).
func (rs *reqState) errorResponse(status int, message string, header http.Header) *exitResponse {
	return rs.templated(status, message, header, negotiate(rs.r.Header.Get("Accept")))
}

// handlerError is Kong's nginx-level error handler (kong/error_handlers.lua,
// §2.7): the template comes from Accept, else the request's Content-Type,
// else error_default_type (text/plain); the request is marked unexpected.
func (rs *reqState) handlerError(status int) *exitResponse {
	accept := rs.r.Header.Get("Accept")
	if accept == "" {
		accept = rs.r.Header.Get("Content-Type")
	}
	typ := "text/plain"
	if accept != "" {
		typ = negotiate(accept)
	}
	rs.unexpected = true
	return rs.templated(status, "", nil, typ)
}

func (rs *reqState) templated(status int, message string, header http.Header, typ string) *exitResponse {
	if message == "" {
		message = defaultMessages[status]
		if message == "" {
			message = "The upstream server responded with " + strconv.Itoa(status)
		}
	}
	h := http.Header{}
	for k, v := range header {
		h[k] = append([]string(nil), v...)
	}
	withID := rs.g.version.atLeast(5)
	var body string
	switch typ {
	case "text/plain":
		h.Set("Content-Type", "text/plain; charset=utf-8")
		body = message + "\n"
		if withID {
			body += "request_id: " + rs.id + "\n"
		}
	case "text/html":
		h.Set("Content-Type", "text/html; charset=utf-8")
		body = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>" + message + ".</p>\n"
		if withID {
			body += "    <p>request_id: " + rs.id + "</p>\n"
		}
		body += "  </body>\n</html>\n"
	case "application/xml":
		h.Set("Content-Type", "application/xml; charset=utf-8")
		body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>" + message + "</message>\n"
		if withID {
			body += "  <requestid>" + rs.id + "</requestid>\n"
		}
		body += "</error>\n"
	default:
		h.Set("Content-Type", "application/json; charset=utf-8")
		if withID {
			body = "{\n  \"message\":\"" + message + "\",\n  \"request_id\":\"" + rs.id + "\"\n}"
		} else {
			body = "{\n  \"message\":\"" + message + "\"\n}"
		}
	}
	return &exitResponse{status: status, body: []byte(body), header: h, isError: true}
}

// exitTable is kong.response.exit(status, {message = …}): compact JSON
// without request_id.
func exitTable(status int, body string, header http.Header) *exitResponse {
	h := http.Header{}
	for k, v := range header {
		h[k] = append([]string(nil), v...)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	return &exitResponse{status: status, body: []byte(body), header: h}
}

// negotiate picks the error template by the highest-q Accept entry.
func negotiate(accept string) string {
	type cand struct {
		typ string
		q   float64
		pos int
	}
	var cs []cand
	for i, part := range strings.Split(accept, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		typ := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "q="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					q = x
				}
			}
		}
		switch typ {
		case "application/json", "text/plain", "text/html", "application/xml", "text/xml":
			if typ == "text/xml" {
				typ = "application/xml"
			}
			cs = append(cs, cand{typ, q, i})
		}
	}
	if len(cs) == 0 {
		return "application/json"
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].q > cs[j].q })
	return cs[0].typ
}
