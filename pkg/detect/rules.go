package detect

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRules []byte

// DefaultRules returns a copy of the embedded rule file, for operators who
// want to start their own from it.
func DefaultRules() []byte { return append([]byte(nil), defaultRules...) }

// Rule is the metadata of one detection rule as written in the rule file.
type Rule struct {
	ID          string   `yaml:"id"`
	Class       string   `yaml:"class"`
	Severity    string   `yaml:"severity"`
	Description string   `yaml:"description"`
	CWE         string   `yaml:"cwe"`
	Technique   string   `yaml:"technique"`
	Paranoia    int      `yaml:"paranoia"`
	Locations   []string `yaml:"locations"`
	// Triggers are lower-case literals of which at least one must occur in a
	// value before the rule's pattern or check runs; with neither pattern nor
	// check, a trigger occurring is the match.
	Triggers []string `yaml:"triggers"`
	// Pattern is an RE2 expression matched against the rule's view.
	Pattern string `yaml:"pattern"`
	// Check names a built-in check (see checks.go).
	Check string `yaml:"check"`
	// View selects the normalised form the pattern sees: lower (default),
	// sql, shell or path.
	View string `yaml:"view"`
	// Anchor says that every match of Pattern begins with one of the
	// triggers: the pattern is then tried only where a trigger occurs in the
	// view, instead of at every position of the value, which keeps long
	// benign values (prose, documents) cheap.
	Anchor bool `yaml:"anchor"`
	// Requires lists lower-case literals one of which every match contains
	// (beyond the trigger that selected the rule): a value with none of them
	// skips the rule before any view is computed or pattern run.
	Requires []string `yaml:"requires"`
}

// rule is a compiled Rule.
type rule struct {
	Rule
	index   int
	re      *regexp.Regexp
	at      *regexp.Regexp // anchored rules: the pattern at the start of the input
	after   *regexp.Regexp // anchored rules: the pattern after one byte of left context
	trig    [][]byte       // anchored rules: the triggers, to find where to try
	req     [][]byte       // Requires
	check   checkFunc
	view    viewKind
	locs    locMask
	headers []string // specific header names (lower case)
	always  bool     // no triggers: runs on every value of its locations
}

type viewKind uint8

const (
	viewLower viewKind = iota
	viewSQL
	viewShell
	viewPath
	numViews
)

// locMask says which kinds of location a rule applies to.
type locMask uint8

const (
	locPath locMask = 1 << iota
	locQuery
	locHeader
	locCookie
	locBody
	locName // parameter names and JSON keys
	// locProtoHeader is a header whose value is protocol syntax (Accept,
	// sec-ch-ua, ...): applications do not echo or query it, so only rules
	// listing "header:*" (Log4Shell, CRLF, ...) run there. It keeps the
	// quotes and semicolons of those headers from waking the SQL and shell rules.
	locProtoHeader
)

var locNames = map[string]locMask{
	"path": locPath, "query": locQuery, "header": locHeader, "cookie": locCookie,
	"body": locBody, "name": locName,
}

var classes = map[string]bool{
	ClassSQLi: true, ClassXSS: true, ClassTraversal: true, ClassCmdi: true,
	ClassSSRF: true, ClassJNDI: true, ClassScanner: true, ClassOther: true,
}

var severities = map[string]bool{"low": true, "medium": true, "high": true, "critical": true}

var ruleFields = map[string]bool{
	"id": true, "class": true, "severity": true, "description": true, "cwe": true,
	"technique": true, "paranoia": true, "locations": true, "triggers": true,
	"pattern": true, "check": true, "view": true, "anchor": true, "requires": true,
}

// maxRules keeps the per-value rule set a fixed-size bit set.
const maxRules = 64 * len(ruleSet{})

// parseRules decodes and validates a rule file. Errors name the line and
// field at fault.
func parseRules(data []byte) ([]*rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("detect: rule file: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("detect: rule file: empty")
	}
	root := doc.Content[0]
	var list *yaml.Node
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "rules" {
				return nil, fmt.Errorf("detect: rule file line %d: unknown key %q (want rules)", root.Content[i].Line, root.Content[i].Value)
			}
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("detect: rule file line %d: want a mapping with a rules list", root.Line)
	}
	if len(list.Content) > maxRules {
		return nil, fmt.Errorf("detect: rule file: %d rules, at most %d supported", len(list.Content), maxRules)
	}
	seen := map[string]int{}
	out := make([]*rule, 0, len(list.Content))
	for i, n := range list.Content {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("detect: rule file line %d: rule %d: want a mapping", n.Line, i+1)
		}
		for k := 0; k+1 < len(n.Content); k += 2 {
			if !ruleFields[n.Content[k].Value] {
				return nil, fmt.Errorf("detect: rule file line %d: unknown field %q", n.Content[k].Line, n.Content[k].Value)
			}
		}
		var r rule
		if err := n.Decode(&r.Rule); err != nil {
			return nil, fmt.Errorf("detect: rule file line %d: %w", n.Line, err)
		}
		if err := r.compile(); err != nil {
			return nil, fmt.Errorf("detect: rule file line %d: rule %q: %w", n.Line, r.ID, err)
		}
		if prev, dup := seen[r.ID]; dup {
			return nil, fmt.Errorf("detect: rule file line %d: field id: %q already used on line %d", n.Line, r.ID, prev)
		}
		seen[r.ID] = n.Line
		r.index = len(out)
		out = append(out, &r)
	}
	return out, nil
}

func (r *rule) compile() error {
	if r.ID == "" {
		return errors.New("field id: missing")
	}
	if !classes[r.Class] {
		return fmt.Errorf("field class: unknown class %q", r.Class)
	}
	if !severities[r.Severity] {
		return fmt.Errorf("field severity: unknown severity %q (want low, medium, high or critical)", r.Severity)
	}
	if r.Paranoia < 1 || r.Paranoia > 4 {
		return fmt.Errorf("field paranoia: %d not in 1..4", r.Paranoia)
	}
	if len(r.Locations) == 0 {
		return errors.New("field locations: missing")
	}
	for _, l := range r.Locations {
		if l == "header:*" {
			r.locs |= locHeader | locProtoHeader
			continue
		}
		if name, ok := strings.CutPrefix(l, "header:"); ok && name != "" {
			r.headers = append(r.headers, strings.ToLower(name))
			continue
		}
		m, ok := locNames[l]
		if !ok {
			return fmt.Errorf("field locations: unknown location %q", l)
		}
		r.locs |= m
	}
	for i, t := range r.Triggers {
		if t == "" {
			return fmt.Errorf("field triggers: entry %d is empty", i+1)
		}
		r.Triggers[i] = strings.ToLower(t)
	}
	for i, t := range r.Requires {
		if t == "" {
			return fmt.Errorf("field requires: entry %d is empty", i+1)
		}
		r.req = append(r.req, []byte(strings.ToLower(t)))
	}
	switch r.View {
	case "", "lower":
		r.view = viewLower
	case "sql":
		r.view = viewSQL
	case "shell":
		r.view = viewShell
	case "path":
		r.view = viewPath
	default:
		return fmt.Errorf("field view: unknown view %q (want lower, sql, shell or path)", r.View)
	}
	if r.Pattern != "" && r.Check != "" {
		return errors.New("fields pattern and check: give one, not both")
	}
	if r.Pattern != "" {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return fmt.Errorf("field pattern: %w", err)
		}
		r.re = re
		if r.Anchor {
			// The byte before a trigger is matched, not skipped, so that a
			// leading \b or a class still sees its left context.
			r.at = regexp.MustCompile(`^(?:` + r.Pattern + `)`)
			r.after = regexp.MustCompile(`^(?s:.)(?:` + r.Pattern + `)`)
			for _, t := range r.Triggers {
				r.trig = append(r.trig, []byte(t))
			}
		}
	}
	if r.Anchor && (r.Pattern == "" || len(r.Triggers) == 0) {
		return errors.New("field anchor: needs a pattern and triggers")
	}
	if r.Check != "" {
		c, ok := checks[r.Check]
		if !ok {
			return fmt.Errorf("field check: unknown check %q", r.Check)
		}
		r.check = c
	}
	if len(r.Triggers) == 0 {
		if r.check == nil {
			return errors.New("field triggers: a rule without a check needs triggers")
		}
		r.always = true
	}
	return nil
}
