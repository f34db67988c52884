package detect

import "bytes"

func init() {
	checks["remote-include"] = checkRemoteInclude
}

// checkRemoteInclude fires on a value that is nothing but a remote URL
// ending in '?' (the include's own suffix cut off by the query) or naming a
// script or text file (.php, .txt, .inc, .sh, .pl, optionally followed by
// '?'): the shape of a remote file inclusion. It is the pattern
// ^(?:https?|ftps?)://\S+(?:\?+$|\.(?:txt|php|inc|sh|pl)\??$) without a
// backtracking regular expression on every URL-valued parameter.
func checkRemoteInclude(s *state, f field, v []byte) (int, int, bool) {
	rest, ok := cutRemoteScheme(v)
	if !ok || len(rest) == 0 || bytes.ContainsAny(rest, " \t\n\r\f") {
		return 0, 0, false
	}
	// Any trailing '?' after at least one other byte matches; otherwise the
	// value must name a script.
	if rest[len(rest)-1] == '?' {
		return 0, len(v), len(rest) >= 2
	}
	if scriptSuffix(rest) {
		return 0, len(v), true
	}
	return 0, 0, false
}

func cutRemoteScheme(v []byte) ([]byte, bool) {
	for _, p := range [...]string{"http://", "https://", "ftp://", "ftps://"} {
		if bytes.HasPrefix(v, []byte(p)) {
			return v[len(p):], true
		}
	}
	return nil, false
}

// scriptSuffix reports whether b is at least one byte followed by .txt,
// .php, .inc, .sh or .pl.
func scriptSuffix(b []byte) bool {
	for _, ext := range [...]string{".txt", ".php", ".inc", ".sh", ".pl"} {
		if len(b) > len(ext) && bytes.HasSuffix(b, []byte(ext)) {
			return true
		}
	}
	return false
}
