package guard

import "github.com/gatewatch/gatewatch/pkg/redact"

// apiKey returns the API key a request carries under one of names (lower
// case), found exactly as the monitor finds it (redact.FindAPIKey), so a
// block written from an event's fingerprint matches here.
func apiKey(req *Request, names []string) string {
	_, v := redact.FindAPIKey(names, func(n string) (string, bool) {
		v := req.header(n)
		return v, v != ""
	}, req.Line.RawQuery)
	return v
}
