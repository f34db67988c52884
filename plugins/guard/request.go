package guard

import (
	"errors"
	"strings"
)

// RequestLine is nginx's $request, split: the request line exactly as the
// client sent it, before any normalisation, which is what detection wants.
type RequestLine struct {
	Method   string
	Target   string // raw request target: origin form (/p?q) or absolute form
	Path     string // raw path, still percent-encoded
	RawQuery string // raw query without '?', still percent-encoded
	Proto    string // "HTTP/1.1", "HTTP/2.0", … or "" for HTTP/0.9
}

// ErrRequestLine means the string is not a request line.
var ErrRequestLine = errors.New("guard: malformed request line")

// ParseRequestLine splits "METHOD TARGET PROTO". nginx already refused
// lines it cannot parse, so this is lenient: the target is everything
// between the first and the last space (it never contains one in valid
// HTTP, but an attacker's bytes should still be inspected, not dropped).
func ParseRequestLine(line string) (RequestLine, error) {
	method, rest, ok := strings.Cut(line, " ")
	if !ok || method == "" || rest == "" {
		return RequestLine{}, ErrRequestLine
	}
	var rl RequestLine
	rl.Method = method
	rl.Target = rest
	if i := strings.LastIndexByte(rest, ' '); i >= 0 && strings.HasPrefix(rest[i+1:], "HTTP/") {
		rl.Target, rl.Proto = rest[:i], rest[i+1:]
	}
	if rl.Target == "" {
		return RequestLine{}, ErrRequestLine
	}
	path := rl.Target
	if i := strings.Index(path, "://"); i > 0 && !strings.HasPrefix(path, "/") {
		// Absolute form (a proxy-style request): drop scheme and authority.
		rest := path[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
		if strings.HasPrefix(path, "?") {
			path = "/" + path
		}
	}
	rl.Path, rl.RawQuery, _ = strings.Cut(path, "?")
	return rl, nil
}
