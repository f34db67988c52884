// Package kongentry decodes the JSON that Kong's kong.log.serialize() returns
// for an HTTP request (kong-reference §5) into the fields gatewatch uses.
//
// It reads only what classification, detection and metrics need, tolerates
// every Kong 3.x variant (3.4 has no request.id, source or workspace; 3.9+
// has source; upstream_status is a string or, with buffered proxying, a
// number; header values are strings or arrays), ignores everything else, and
// never panics on malformed input: a document that is not a serialized entry
// is an error that names the field.
package kongentry

import (
	"strconv"
	"strings"
)

// Entry is a decoded Kong log entry.
//
// An Entry is meant to be reused: decoding into it reuses its header and
// tries slices and the buffers its unescaped strings live in, so a pooled
// Entry decodes without allocating. The price is that every string and
// slice in it is valid only until the next Decode into the same Entry;
// whoever keeps one longer must copy it (strings.Clone).
type Entry struct {
	Request        Request        `json:"request"`
	UpstreamURI    string         `json:"upstream_uri"`
	UpstreamStatus UpstreamStatus `json:"upstream_status"`
	Response       Response       `json:"response"`
	Latencies      Latencies      `json:"latencies"`
	Tries          Tries          `json:"tries"`
	// The entities are values; each one's Present tells whether the entry
	// had it (an object rather than null or nothing).
	Authenticated AuthenticatedEntity `json:"authenticated_entity"`
	Route         Entity              `json:"route"`
	Service       Entity              `json:"service"`
	Consumer      Consumer            `json:"consumer"`
	ClientIP      string              `json:"client_ip"`
	StartedAt     float64             `json:"started_at"` // ms since the epoch
	// Source is "kong" or "upstream" (Kong 3.9+); empty on older Kong,
	// where the caller asks kong.response.get_source instead.
	Source        string `json:"source"`
	Workspace     string `json:"workspace"`
	WorkspaceName string `json:"workspace_name"`
	// Gatewatch is the guard's annotation, set with
	// kong.log.set_serialize_value("gatewatch", …) in the access phase.
	Gatewatch string `json:"gatewatch"`

	// doc is Decode's copy of the document and arena holds the strings
	// that needed unescaping; both are reused by the next Decode.
	doc, arena []byte
}

// Request is the serialized request.
type Request struct {
	ID      string  `json:"id"`
	URI     string  `json:"uri"` // original request URI including the query
	URL     string  `json:"url"`
	Method  string  `json:"method"`
	Headers Headers `json:"headers"`
	Size    float64 `json:"size"`
}

// Response is the serialized response.
type Response struct {
	Status  int     `json:"status"`
	Headers Headers `json:"headers"`
	Size    float64 `json:"size"`
}

// Latencies are Kong's latencies in milliseconds; Proxy is -1 when the
// request was not proxied.
type Latencies struct {
	Kong    float64 `json:"kong"`
	Proxy   float64 `json:"proxy"`
	Request float64 `json:"request"`
	Receive float64 `json:"receive"`
}

// Try is one balancer attempt.
type Try struct {
	IP    string `json:"ip"`
	Port  int    `json:"port"`
	State string `json:"state"`
	Code  int    `json:"code"`
}

// Tries is the balancer attempts. Present tells an absent array (no route
// matched) from an empty one (a route matched and nothing was proxied).
type Tries struct {
	List    []Try
	Present bool
}

// AuthenticatedEntity is the credential Kong authenticated.
type AuthenticatedEntity struct {
	ID         string `json:"id"`
	ConsumerID string `json:"consumer_id"`
	Present    bool   `json:"-"`
}

// Entity is a route or service: the fields gatewatch reports.
type Entity struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Present bool   `json:"-"`
}

// Consumer is the authenticated consumer.
type Consumer struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	CustomID string `json:"custom_id"`
	Present  bool   `json:"-"`
}

// Header is one request or response header. Kong serializes names in
// lower case; a repeated header appears once per value.
type Header struct {
	Name, Value string
}

// Headers is a serialized header table in document order.
type Headers []Header

// Get returns the first value of a header; name must be lower-case.
func (h Headers) Get(name string) string {
	for i := range h {
		if h[i].Name == name {
			return h[i].Value
		}
	}
	return ""
}

// Has reports whether the header is present (even with an empty value).
func (h Headers) Has(name string) bool {
	for i := range h {
		if h[i].Name == name {
			return true
		}
	}
	return false
}

// Count returns how many values a header has.
func (h Headers) Count(name string) int {
	n := 0
	for i := range h {
		if h[i].Name == name {
			n++
		}
	}
	return n
}

// UpstreamStatus is $upstream_status: "200", "502, 200" after retries, "" when
// nothing was proxied, or a number with buffered proxying.
type UpstreamStatus string

// Last returns the status of the last upstream attempt, or 0.
func (u UpstreamStatus) Last() int {
	s := string(u)
	if i := strings.LastIndexAny(s, ",:"); i >= 0 {
		s = s[i+1:]
	}
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// Path returns the request path without the query string.
func (r *Request) Path() string {
	if i := strings.IndexByte(r.URI, '?'); i >= 0 {
		return r.URI[:i]
	}
	return r.URI
}

// RawQuery returns the raw query string (without '?').
func (r *Request) RawQuery() string {
	if i := strings.IndexByte(r.URI, '?'); i >= 0 {
		return r.URI[i+1:]
	}
	return ""
}

// Host returns the Host header, or the host of the serialized URL.
func (r *Request) Host() string {
	if h := r.Headers.Get("host"); h != "" {
		return h
	}
	u := r.URL
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	return u
}
