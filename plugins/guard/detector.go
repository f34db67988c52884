package guard

import (
	"fmt"
	"sync"

	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// NewEngine compiles the detection engine's embedded rules, once per
// process.
func NewEngine() (Engine, error) {
	e, err := detect.New(nil)
	if err != nil {
		return nil, fmt.Errorf("guard: detection engine: %w", err)
	}
	return detectEngine{e}, nil
}

type detectEngine struct{ e *detect.Engine }

func (d detectEngine) Rules() []string {
	rules := d.e.Rules()
	ids := make([]string, len(rules))
	for i := range rules {
		ids[i] = rules[i].ID
	}
	return ids
}

func (d detectEngine) Detector(paranoia int, disabled []string) (Detector, error) {
	p, err := d.e.Profile(detect.Policy{Paranoia: paranoia, DisabledRules: disabled})
	if err != nil {
		return nil, err
	}
	pd := &profileDetector{p: p}
	pd.pool.New = func() any { return new(detectScratch) }
	return pd, nil
}

// profileDetector adapts a detect.Profile; the request it builds for the
// engine and the engine's findings live in pooled scratch space, so a
// benign request allocates nothing here.
type profileDetector struct {
	p    *detect.Profile
	pool sync.Pool
}

type detectScratch struct {
	req      detect.Request
	headers  []detect.Header
	findings []detect.Finding
}

func (d *profileDetector) Inspect(r *DetectRequest, dst []event.Finding) []event.Finding {
	s := d.pool.Get().(*detectScratch)
	hs := s.headers[:0]
	for _, h := range r.Headers {
		hs = append(hs, detect.Header{Name: h.Name, Value: h.Value})
	}
	s.req = detect.Request{
		Method: r.Method, Path: r.Path, RawQuery: r.RawQuery,
		Headers: hs, Body: r.Body, ContentType: r.ContentType,
	}
	s.findings = d.p.Inspect(&s.req, s.findings[:0])
	for _, f := range s.findings {
		dst = append(dst, event.Finding{
			RuleID: f.RuleID, Class: f.Class, Severity: event.Severity(f.Severity),
			Location: f.Location, Fragment: f.Fragment, CWE: f.CWE, Technique: f.Technique,
		})
	}
	// Drop references into this request before the scratch is reused.
	clear(hs)
	clear(s.findings)
	s.headers, s.req = hs[:0], detect.Request{}
	d.pool.Put(s)
	return dst
}
