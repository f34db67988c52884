package guard

import (
	"net/url"
	"strings"
)

// apiKey returns the API key a request carries under one of names (lower
// case), looked up the way key-auth and the monitor look: headers first,
// then the query string, first match wins. The value is what the monitor
// fingerprints for its events, so a block written from an event's
// fingerprint matches here.
func apiKey(req *Request, names []string) string {
	for _, n := range names {
		if v := req.header(n); v != "" {
			return v
		}
	}
	q := req.Line.RawQuery
	if q == "" {
		return ""
	}
	for _, n := range names {
		if v := queryValue(q, n); v != "" {
			return v
		}
	}
	return ""
}

// queryValue returns the first value of name in rawQuery, decoded.
func queryValue(rawQuery, name string) string {
	for rawQuery != "" {
		pair := rawQuery
		if i := strings.IndexByte(rawQuery, '&'); i >= 0 {
			pair, rawQuery = rawQuery[:i], rawQuery[i+1:]
		} else {
			rawQuery = ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.EqualFold(k, name) {
			if dec, err := url.QueryUnescape(v); err == nil {
				return dec
			}
			return v
		}
	}
	return ""
}
