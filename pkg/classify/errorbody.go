package classify

import (
	"strconv"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/kongentry"
)

// Kong's error responses (kong.response.error, kong-reference §6.2) have a
// body made from a fixed template around the plugin's message, and Kong
// sets Content-Length. The serialized entry has no body, but it has the
// response headers, so the length tells which of a few known messages was
// sent. That separates acl's 403 from ip-restriction's and bot-detection's
// without guessing from the status alone.

// errorBodyLen returns the length of Kong's error body for msg in the
// format the Content-Type names, with or without a request id (Kong 3.5+
// adds it), or -1 for a format Kong does not template.
func errorBodyLen(contentType string, msg string, requestIDLen int) int {
	ct := strings.ToLower(contentType)
	switch {
	case strings.HasPrefix(ct, "application/json"):
		// {\n  "message":"<m>",\n  "request_id":"<id>"\n}  or, before 3.5,
		// {\n  "message":"<m>"\n}
		if requestIDLen > 0 {
			return len("{\n  \"message\":\"\",\n  \"request_id\":\"\"\n}") + len(msg) + requestIDLen
		}
		return len("{\n  \"message\":\"\"\n}") + len(msg)
	case strings.HasPrefix(ct, "text/plain"):
		if requestIDLen > 0 {
			return len(msg) + len("\nrequest_id: \n") + requestIDLen
		}
		return len(msg) + 1
	}
	return -1
}

// denyMessages are the bundled plugins' 403 messages (kong-reference §7),
// by control. ip-restriction's includes the client address; its 3.0–3.3
// message is also listed.
func denyMessages(clientIP string) []struct{ control, msg string } {
	return []struct{ control, msg string }{
		{"acl", "You cannot consume this service"},
		{"ip-restriction", "IP address not allowed: " + clientIP},
		{"ip-restriction", "Your IP address is not allowed"},
		{"ip-restriction", "Cannot identify the client IP address, unix domain sockets are not supported."},
		{"bot-detection", "Forbidden"},
	}
}

// controlFromBody names the control whose default message matches the
// response's Content-Length, or "" when none or several do.
func controlFromBody(e *kongentry.Entry) string {
	cl, err := strconv.Atoi(e.Response.Headers.Get("content-length"))
	if err != nil || cl <= 0 {
		return ""
	}
	ct := e.Response.Headers.Get("content-type")
	idLen := len(requestID(e))
	found := ""
	for _, cand := range denyMessages(e.ClientIP) {
		for _, n := range []int{idLen, 0} {
			if errorBodyLen(ct, cand.msg, n) == cl {
				if found != "" && found != cand.control {
					return ""
				}
				found = cand.control
			}
		}
	}
	return found
}
