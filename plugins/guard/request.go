package guard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/Kong/go-pdk"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
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

// Request is what the guard read about one request.
type Request struct {
	Line    RequestLine
	Headers []Header // as Kong returned them: lower-case names, one entry per value
}

// header returns the first value of a header (name in lower case).
func (r *Request) header(name string) string { return firstHeader(r.Headers, name) }

func firstHeader(hs []Header, name string) string {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Value
		}
	}
	return ""
}

// carriesBody reports whether a request has a body worth one more PDK
// call: a method that carries one, a declared length or chunked transfer,
// and a content type that is not plainly binary (images, archives, …),
// where signatures of text attacks have nothing to find.
func carriesBody(method string, headers []Header) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "CONNECT":
		return false
	}
	cl := strings.TrimSpace(firstHeader(headers, "content-length"))
	if (cl == "" || cl == "0") && firstHeader(headers, "transfer-encoding") == "" {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(firstHeader(headers, "content-type")))
	for _, binary := range binaryTypes {
		if strings.HasPrefix(ct, binary) {
			return false
		}
	}
	return true
}

// binaryTypes are content-type prefixes the guard does not read.
var binaryTypes = []string{
	"image/", "audio/", "video/", "font/",
	"application/octet-stream", "application/pdf", "application/zip",
	"application/gzip", "application/x-protobuf", "application/protobuf",
	"application/grpc",
}

// errBridge marks a failed get_raw_body call, as opposed to a body Kong
// or the file system could not deliver.
var errBridge = errors.New("guard: kong.request.get_raw_body failed")

// readBody asks Kong for the body and returns at most BodyMaxBytes of it.
// go-pdk's GetRawBody reads a buffered-to-file body whole; here the file is
// read only up to the cap, so a 1 GB upload costs the guard 64 KB. A body
// Kong sends in the reply is not copied.
func (c *Config) readBody(kong *pdk.PDK, rep *pdkwire.Replies) ([]byte, error) {
	raw, err := rep.Ask(kong, "kong.request.get_raw_body", nil)
	if err != nil {
		return nil, errBridge
	}
	kind, v, err := decodeRawBody(raw)
	if err != nil {
		return nil, fmt.Errorf("guard: kong.request.get_raw_body: %w", err)
	}
	limit := c.BodyMaxBytes
	switch kind {
	case bodyContent:
		if len(v) > limit {
			v = v[:limit]
		}
		return v, nil
	case bodyFilepath:
		return readFilePrefix(string(v), limit)
	case bodyError:
		return nil, fmt.Errorf("guard: kong.request.get_raw_body: %s", v)
	}
	return nil, nil // an empty reply: no body
}

// readFilePrefix reads at most limit bytes of the file nginx buffered the
// body to.
func readFilePrefix(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("guard: request body file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("guard: request body file %s: %w", path, err)
	}
	return b, nil
}
