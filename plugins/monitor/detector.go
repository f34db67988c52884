package monitor

import (
	"strings"
	"sync"

	"github.com/gatewatch/gatewatch/pkg/classify"
	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/kongentry"
	"github.com/gatewatch/gatewatch/pkg/redact"
)

// entryDetector runs the detection engine over what the log entry holds of
// the request: path, query and headers (Kong does not serialize the body;
// the guard inspects bodies inline).
type entryDetector struct {
	profile  *detect.Profile
	redactor *redact.Redactor
}

// newDetector builds the route's detector from its config; nil (no
// detection) when the engine or the route's tuning cannot be compiled,
// which the plugin server reports when the instance starts (Prepare).
func newDetector(c *Config) classify.Detector {
	p, err := c.detectProfile()
	if err != nil || p == nil {
		return nil
	}
	return &entryDetector{profile: p, redactor: c.redactor()}
}

// detectScratch is Detect's working memory, pooled: the engine keeps what
// it is handed for the length of the call, so buffers on Detect's stack
// would move to the heap on every call.
type detectScratch struct {
	headers  []detect.Header
	findings []detect.Finding
}

var detectScratchPool = sync.Pool{New: func() any { return new(detectScratch) }}

// maxPooledHeaders bounds what one odd request leaves in the pool.
const maxPooledHeaders = 1024

func (d *entryDetector) Detect(e *kongentry.Entry, dst []event.Finding) []event.Finding {
	sc := detectScratchPool.Get().(*detectScratch)
	headers := sc.headers[:0]
	for _, h := range e.Request.Headers {
		headers = append(headers, detect.Header{Name: h.Name, Value: h.Value})
	}
	req := detect.Request{
		Method:   e.Request.Method,
		Path:     e.Request.Path(),
		RawQuery: e.Request.RawQuery(),
		Headers:  headers,
	}
	found := d.profile.Inspect(&req, sc.findings[:0])
	for _, f := range found {
		frag := f.Fragment
		if d.secretLocation(f.Location) {
			// The matched input is a credential's value: say where, not what.
			frag = ""
		}
		dst = append(dst, event.Finding{
			RuleID: f.RuleID, Class: f.Class, Severity: event.Severity(f.Severity),
			Location: f.Location, Fragment: frag, CWE: f.CWE, Technique: f.Technique,
		})
	}
	// Nothing pooled may keep pointing at this entry's strings.
	clear(headers)
	clear(found)
	if cap(headers) > maxPooledHeaders {
		headers = nil
	}
	sc.headers, sc.findings = headers[:0], found[:0]
	detectScratchPool.Put(sc)
	return dst
}

// secretLocation reports findings in places whose values are secrets:
// credential headers, cookies, secret query parameters.
func (d *entryDetector) secretLocation(loc string) bool {
	kind, name, _ := strings.Cut(loc, ":")
	switch kind {
	case "header":
		return d.redactor.SecretHeader(name)
	case "cookie":
		return true
	case "query", "body":
		return d.redactor.SecretParam(name)
	}
	return false
}
