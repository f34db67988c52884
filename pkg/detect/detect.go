// Package detect is gatewatch's request-signature detection engine: it decides
// whether an HTTP request carries an attack (SQL injection, XSS, path traversal, OS
// command injection, SSRF, Log4Shell/JNDI lookups, attack-tool fingerprints
// and a few cheap, precise other families: SSTI, NoSQL operators, CRLF
// injection, XXE, deserialisation markers).
//
// Rules are data: an embedded YAML file (overridable with New) names, per
// rule, its class, severity, references, locations, paranoia level, trigger
// literals and either a pattern or a built-in check. One Aho-Corasick pass over
// each decoded value selects the few rules worth running, so the cost of a
// benign value is one table lookup per byte. A Policy (per route) disables
// rules or classes, excludes locations and picks the paranoia level; it
// compiles into a Profile.
//
// Guarantees: Profile.Inspect is safe for concurrent use, never panics on
// outside input, and costs bounded time and memory: every value is cut at
// MaxValueBytes, a request at MaxRequestBytes of inspected input and
// MaxFields values, decoding at a fixed number of rounds, JSON at MaxDepth
// nesting. Fragments in findings are at most 64 printable-ASCII bytes and
// never carry the value of a credential-bearing header, cookie or field.
package detect

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Bounds on the work one request can cause.
const (
	// MaxValueBytes is the longest single value inspected; the rest is ignored.
	MaxValueBytes = 16 << 10
	// MaxRequestBytes bounds the total bytes inspected per request.
	MaxRequestBytes = 256 << 10
	// MaxFields bounds the number of values (parameters, headers, JSON leaves)
	// inspected per request.
	MaxFields = 2048
	// MaxDepth bounds JSON nesting.
	MaxDepth = 32
	// MaxFindings bounds the findings appended per request.
	MaxFindings = 32
	// maxFragment is the longest fragment reported.
	maxFragment = 64
)

// Header is one request header as received.
type Header struct{ Name, Value string }

// Request is the part of an HTTP request the engine looks at.
type Request struct {
	Method, Path, RawQuery string // Path is the raw request path (may be percent-encoded), RawQuery without '?'
	Headers                []Header
	Body                   []byte // optional
	ContentType            string // for Body
}

// NewRequest builds the request view of a request line's target (path and
// query as sent, '?' between them), headers given as a map (sorted by name,
// so that findings come out in a stable order; Content-Type, in any case,
// is the body's type) and a body. It is how corpus records and gwctl detect
// input lines become requests.
func NewRequest(method, target string, headers map[string]string, body string) Request {
	path, query, _ := strings.Cut(target, "?")
	r := Request{Method: method, Path: path, RawQuery: query}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	r.Headers = make([]Header, 0, len(names))
	for _, n := range names {
		r.Headers = append(r.Headers, Header{Name: n, Value: headers[n]})
		if strings.EqualFold(n, "content-type") {
			r.ContentType = headers[n]
		}
	}
	if body != "" {
		r.Body = []byte(body)
	}
	return r
}

// Finding is one rule that matched one location.
type Finding struct {
	RuleID, Class, Severity, Location, Fragment string
	CWE, Technique                              string
}

// Classes the engine reports.
const (
	ClassSQLi      = "sqli"
	ClassXSS       = "xss"
	ClassTraversal = "traversal"
	ClassCmdi      = "cmdi"
	ClassSSRF      = "ssrf"
	ClassJNDI      = "jndi"
	ClassScanner   = "scanner"
	ClassOther     = "other"
)

// Engine holds a compiled rule set. It is immutable and safe to share.
type Engine struct {
	rules   []*rule
	signals ruleSet // rules that only look at decode signals
	matcher *matcher
	scratch sync.Pool
}

// New compiles a rule file. nil selects the embedded default rule file.
// Errors name the line and field at fault.
func New(rules []byte) (*Engine, error) {
	if rules == nil {
		rules = defaultRules
	}
	rs, err := parseRules(rules)
	if err != nil {
		return nil, err
	}
	e := &Engine{rules: rs}
	triggers := make([][]string, len(rs))
	for i, r := range rs {
		triggers[i] = r.Triggers
		if signalChecks[r.Check] {
			e.signals.add(i)
		}
	}
	if e.matcher, err = newMatcher(triggers); err != nil {
		return nil, err
	}
	e.scratch.New = func() any { return new(state) }
	return e, nil
}

// Rules returns the metadata of every rule in the engine, in file order.
func (e *Engine) Rules() []Rule {
	out := make([]Rule, len(e.rules))
	for i, r := range e.rules {
		out[i] = r.Rule
	}
	return out
}

// String describes the engine for logs.
func (e *Engine) String() string { return fmt.Sprintf("detect.Engine(%d rules)", len(e.rules)) }
