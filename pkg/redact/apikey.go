package redact

import (
	"net/url"
	"strings"
)

// FindAPIKey returns where a request carries an API key under one of names
// (lower case) and its value, looked up the way Kong's key-auth looks:
// headers first, then the query string, first match wins. header reports a
// header's first value and whether the request counts it as present. The
// monitor fingerprints the value for its events and the guard for its
// blocklist, so both must find the same key: this is the one place that
// decides which.
func FindAPIKey(names []string, header func(name string) (string, bool), rawQuery string) (loc, value string) {
	for _, n := range names {
		if v, ok := header(n); ok {
			return "header:" + n, v
		}
	}
	if rawQuery == "" {
		return "", ""
	}
	for _, n := range names {
		if v := QueryValue(rawQuery, n); v != "" {
			return "query:" + n, v
		}
	}
	return "", ""
}

// QueryValue returns the first value of name (case-insensitive) in
// rawQuery, percent-decoded when it decodes.
func QueryValue(rawQuery, name string) string {
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
