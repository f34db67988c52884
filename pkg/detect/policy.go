package detect

import (
	"fmt"
	"strings"
)

// Policy tunes the engine for one route, the way operators tune the CRS but
// simpler. The zero Policy runs every paranoia-1 rule everywhere.
type Policy struct {
	// Paranoia is the highest rule paranoia level run (1..4); 0 means 1.
	Paranoia int
	// DisabledRules lists rule ids not to run.
	DisabledRules []string
	// DisabledClasses lists classes not to report.
	DisabledClasses []string
	// Exclusions stop some classes from being reported at some locations.
	Exclusions []Exclusion
}

// Exclusion stops Classes (all classes when empty) from being reported at
// Location: "header:x-foo", "query:q", "cookie:session", "body:$.comment",
// "body:comment" or "path". A trailing '*' matches any location with that
// prefix ("body:$.content.*").
type Exclusion struct {
	Location string
	Classes  []string
}

// Profile is a Policy compiled against an Engine. It is immutable and safe
// for concurrent use.
type Profile struct {
	e        *Engine
	paranoia int
	// byKind holds the enabled rules per location kind, split into those that
	// need a trigger and those that always run.
	byKind  [numKinds]kindRules
	headers map[string]kindRules // rules tied to one header name
	excl    []exclusion
	cache   *cleanCache // header and cookie values no rule matched
}

type kindRules struct{ triggered, always ruleSet }

const numKinds = 7

func kindIndex(k locMask) int {
	switch k {
	case locPath:
		return 0
	case locQuery:
		return 1
	case locHeader:
		return 2
	case locCookie:
		return 3
	case locBody:
		return 4
	case locProtoHeader:
		return 6
	}
	return 5
}

type exclusion struct {
	loc     string
	prefix  bool
	classes map[string]bool // nil: every class
}

// Profile compiles a policy. Errors name the field at fault.
func (e *Engine) Profile(p Policy) (*Profile, error) {
	pl := p.Paranoia
	if pl == 0 {
		pl = 1
	}
	if pl < 1 || pl > 4 {
		return nil, fmt.Errorf("detect: policy field paranoia: %d not in 1..4", p.Paranoia)
	}
	disabled := map[string]bool{}
	for i, id := range p.DisabledRules {
		if !e.hasRule(id) {
			return nil, fmt.Errorf("detect: policy field disabled_rules[%d]: unknown rule %q", i, id)
		}
		disabled[id] = true
	}
	offClass := map[string]bool{}
	for i, c := range p.DisabledClasses {
		if !classes[c] {
			return nil, fmt.Errorf("detect: policy field disabled_classes[%d]: unknown class %q", i, c)
		}
		offClass[c] = true
	}
	prof := &Profile{e: e, paranoia: pl, headers: map[string]kindRules{}, cache: newCleanCache()}
	for _, r := range e.rules {
		if r.Paranoia > pl || disabled[r.ID] || offClass[r.Class] {
			continue
		}
		for k := locMask(1); k <= locProtoHeader; k <<= 1 {
			if r.locs&k == 0 {
				continue
			}
			kr := &prof.byKind[kindIndex(k)]
			if r.always {
				kr.always.add(r.index)
			} else {
				kr.triggered.add(r.index)
			}
		}
		for _, h := range r.headers {
			kr := prof.headers[h]
			if r.always {
				kr.always.add(r.index)
			} else {
				kr.triggered.add(r.index)
			}
			prof.headers[h] = kr
		}
	}
	for i, x := range p.Exclusions {
		loc := strings.TrimSpace(x.Location)
		kind, _, _ := strings.Cut(loc, ":")
		if _, ok := locNames[kind]; !ok || kind == "name" {
			return nil, fmt.Errorf("detect: policy field exclusions[%d].location: %q does not start with path, query:, header:, cookie: or body:", i, x.Location)
		}
		ex := exclusion{loc: loc}
		if strings.HasSuffix(loc, "*") {
			ex.prefix = true
			ex.loc = strings.TrimSuffix(loc, "*")
		}
		if kind == "header" {
			ex.loc = strings.ToLower(ex.loc)
		}
		for j, c := range x.Classes {
			if !classes[c] {
				return nil, fmt.Errorf("detect: policy field exclusions[%d].classes[%d]: unknown class %q", i, j, c)
			}
			if ex.classes == nil {
				ex.classes = map[string]bool{}
			}
			ex.classes[c] = true
		}
		prof.excl = append(prof.excl, ex)
	}
	return prof, nil
}

// Paranoia reports the paranoia level the profile runs at.
func (p *Profile) Paranoia() int { return p.paranoia }

func (e *Engine) hasRule(id string) bool {
	for _, r := range e.rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (p *Profile) excluded(loc, class string) bool {
	for _, x := range p.excl {
		match := loc == x.loc || x.prefix && strings.HasPrefix(loc, x.loc)
		if match && (x.classes == nil || x.classes[class]) {
			return true
		}
	}
	return false
}
