package alert

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
	"gopkg.in/yaml.v3"
)

// Defaults, in one place: docs/alerting.md quotes them.
const (
	DefaultLateness     = 10 * time.Second
	DefaultMaxKeys      = 100_000
	DefaultBuckets      = 10 // a window is slid in window/10 steps unless resolution says otherwise
	DefaultRepeat       = time.Minute
	MaxBucketsPerWindow = 600
	DefaultBlockTTL     = 15 * time.Minute
)

// RuleSet is a parsed, validated rule file.
type RuleSet struct {
	File string
	// Lateness is how far behind the newest event time an event may arrive
	// and still count; older events are dropped and counted as late.
	Lateness time.Duration
	// MaxKeys caps the group keys tracked per rule; the least recently seen
	// key is evicted (and counted) when a new one would exceed it.
	MaxKeys   int
	Receivers []ReceiverSpec
	Rules     []*Rule
}

// ReceiverSpec names a notifier and keeps its settings undecoded: each
// notify integration decodes its own settings (pkg/notify), so this package
// does not depend on them. Node is the receiver's whole mapping.
type ReceiverSpec struct {
	Name string
	Type string
	File string
	Line int
	Path string // e.g. receivers[0], for error messages
	Node *yaml.Node
}

// Rule is one validated alert rule.
type Rule struct {
	Name       string
	Line       int
	Match      Match
	GroupBy    []string
	Window     time.Duration
	Resolution time.Duration // bucket width: the window slides in these steps
	Threshold  Threshold
	// For is how long the threshold must hold before the alert fires;
	// ResolveAfter how long it must stay below before it resolves.
	For, ResolveAfter time.Duration
	Severity          event.Severity
	Labels            map[string]string
	Summary           string
	Description       string
	RunbookURL        string
	Actions           Actions

	groupGet []getter
	summary  *template.Template
	descr    *template.Template
	buckets  int
	index    int
}

// BlockSubjectKind returns the blocklist kind the rule's group key maps to,
// or "" when the key cannot be a subject.
func (r *Rule) BlockSubjectKind() string {
	if len(r.GroupBy) != 1 {
		return ""
	}
	switch r.GroupBy[0] {
	case "client.ip":
		return "ip"
	case "client.consumer.id":
		return "consumer"
	case "detail.identity.value":
		return "apikey-fp"
	}
	return ""
}

// Load reads and parses a rule file.
func Load(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	return Parse(path, data)
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Parse validates a rule file. file is used only in error messages; every
// error is a *FieldError naming the file, line and field.
func Parse(file string, data []byte) (*RuleSet, error) {
	p := &parser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if _, err2 := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line); err2 != nil {
			line = 0
		}
		return nil, &FieldError{File: file, Line: line, Field: "(document)", Msg: "not valid YAML: " + err.Error()}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &FieldError{File: file, Line: 1, Field: "(document)", Msg: "expected one YAML document with a rules list"}
	}
	root, err := p.mapping(doc.Content[0], "")
	if err != nil {
		return nil, err
	}
	rs := &RuleSet{File: file, Lateness: DefaultLateness, MaxKeys: DefaultMaxKeys}
	if v := root.get("lateness"); v != nil {
		if rs.Lateness, err = p.duration(v, "lateness"); err != nil {
			return nil, err
		}
	}
	if v := root.get("max_keys_per_rule"); v != nil {
		if rs.MaxKeys, err = p.positiveInt(v, "max_keys_per_rule"); err != nil {
			return nil, err
		}
	}
	receivers := map[string]bool{}
	if v := root.get("receivers"); v != nil {
		if v.Kind != yaml.SequenceNode {
			return nil, p.errf(v, "receivers", "expected a list, got %s", describe(v))
		}
		for i, n := range v.Content {
			spec, err := p.parseReceiver(deref(n), fmt.Sprintf("receivers[%d]", i))
			if err != nil {
				return nil, err
			}
			if receivers[spec.Name] {
				return nil, p.errf(n, spec.Path+".name", "duplicate receiver %q", spec.Name)
			}
			receivers[spec.Name] = true
			rs.Receivers = append(rs.Receivers, spec)
		}
	}
	v := root.get("rules")
	if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return nil, p.errf(doc.Content[0], "rules", "expected a non-empty list of rules")
	}
	names := map[string]bool{}
	for i, n := range v.Content {
		r, err := p.parseRule(deref(n), fmt.Sprintf("rules[%d]", i), receivers)
		if err != nil {
			return nil, err
		}
		if names[r.Name] {
			return nil, p.errf(n, fmt.Sprintf("rules[%d].name", i), "duplicate rule name %q", r.Name)
		}
		names[r.Name] = true
		r.index = len(rs.Rules)
		rs.Rules = append(rs.Rules, r)
	}
	if err := root.unknown(); err != nil {
		return nil, err
	}
	return rs, nil
}

func (p *parser) parseReceiver(n *yaml.Node, path string) (ReceiverSpec, error) {
	m, err := p.mapping(n, path)
	if err != nil {
		return ReceiverSpec{}, err
	}
	spec := ReceiverSpec{File: p.file, Line: n.Line, Path: path, Node: n}
	nv := m.get("name")
	if nv == nil {
		return spec, p.errf(n, path+".name", "required")
	}
	if spec.Name, err = p.str(nv, path+".name"); err != nil {
		return spec, err
	}
	tv := m.get("type")
	if tv == nil {
		return spec, p.errf(n, path+".type", "required (alertmanager, webhook, slack, pagerduty or kafka)")
	}
	if spec.Type, err = p.str(tv, path+".type"); err != nil {
		return spec, err
	}
	// The remaining keys belong to the integration, which checks them.
	return spec, nil
}

func (p *parser) parseRule(n *yaml.Node, path string, receivers map[string]bool) (*Rule, error) {
	m, err := p.mapping(n, path)
	if err != nil {
		return nil, err
	}
	r := &Rule{Line: n.Line, Severity: event.Medium}
	nv := m.get("name")
	if nv == nil {
		return nil, p.errf(n, m.field("name"), "required")
	}
	if r.Name, _ = p.str(nv, m.field("name")); !ruleName.MatchString(r.Name) {
		return nil, p.errf(nv, m.field("name"), "expected lower-case letters, digits and dashes (it names the runbook), got %s", describe(nv))
	}
	path = fmt.Sprintf("%s(%s)", path, r.Name)
	m.path = path
	m.allow("match", "group_by", "window", "resolution", "threshold", "for", "resolve_after", "severity", "labels", "annotations", "actions")
	if err := m.unknown(); err != nil {
		return nil, err
	}

	mv := m.get("match")
	if mv == nil {
		return nil, p.errf(n, m.field("match"), "required")
	}
	if r.Match, err = p.parseMatch(mv, m.field("match")); err != nil {
		return nil, err
	}
	if v := m.get("group_by"); v != nil {
		if r.GroupBy, err = p.strs(v, m.field("group_by")); err != nil {
			return nil, err
		}
		for _, g := range r.GroupBy {
			get, ok := fields[g]
			if !ok {
				return nil, p.errf(v, m.field("group_by"), "unknown event field %q", g)
			}
			r.groupGet = append(r.groupGet, get)
		}
	}
	wv := m.get("window")
	if wv == nil {
		return nil, p.errf(n, m.field("window"), "required (e.g. 1m)")
	}
	if r.Window, err = p.duration(wv, m.field("window")); err != nil {
		return nil, err
	}
	if r.Window <= 0 {
		return nil, p.errf(wv, m.field("window"), "must be positive")
	}
	r.Resolution = r.Window / DefaultBuckets
	if v := m.get("resolution"); v != nil {
		if r.Resolution, err = p.duration(v, m.field("resolution")); err != nil {
			return nil, err
		}
		if r.Resolution <= 0 || r.Window%r.Resolution != 0 {
			return nil, p.errf(v, m.field("resolution"), "must be positive and divide the window %s", r.Window)
		}
	}
	if r.Resolution <= 0 {
		r.Resolution = r.Window
	}
	r.buckets = int((r.Window + r.Resolution - 1) / r.Resolution)
	if r.buckets > MaxBucketsPerWindow {
		return nil, p.errf(wv, m.field("resolution"), "window/resolution is %d buckets, more than %d", r.buckets, MaxBucketsPerWindow)
	}
	tv := m.get("threshold")
	if tv == nil {
		return nil, p.errf(n, m.field("threshold"), "required (count, distinct or ratio)")
	}
	if r.Threshold, err = p.parseThreshold(tv, m.field("threshold")); err != nil {
		return nil, err
	}
	if v := m.get("for"); v != nil {
		if r.For, err = p.duration(v, m.field("for")); err != nil {
			return nil, err
		}
	}
	if v := m.get("resolve_after"); v != nil {
		if r.ResolveAfter, err = p.duration(v, m.field("resolve_after")); err != nil {
			return nil, err
		}
	}
	if v := m.get("severity"); v != nil {
		sev, ok := event.ParseSeverity(v.Value)
		if v.Kind != yaml.ScalarNode || !ok {
			return nil, p.errf(v, m.field("severity"), "expected info, low, medium, high or critical, got %s", describe(v))
		}
		r.Severity = sev
	}
	if v := m.get("labels"); v != nil {
		if r.Labels, err = p.stringMap(v, m.field("labels")); err != nil {
			return nil, err
		}
		for k := range r.Labels {
			if !labelName.MatchString(k) || k == "alertname" || k == "severity" || k == "rule" {
				return nil, p.errf(v, m.field("labels."+k), "label names are [a-zA-Z_][a-zA-Z0-9_]* and alertname, severity, rule are set by gatewatch")
			}
		}
	}
	av := m.get("annotations")
	if av == nil {
		return nil, p.errf(n, m.field("annotations"), "required: summary and runbook_url at least")
	}
	if err := p.parseAnnotations(av, m.field("annotations"), r); err != nil {
		return nil, err
	}
	acv := m.get("actions")
	if acv == nil {
		return nil, p.errf(n, m.field("actions"), "required: notify, block or annotate")
	}
	if err := p.parseActions(acv, m.field("actions"), r, receivers); err != nil {
		return nil, err
	}
	if err := m.unknown(); err != nil {
		return nil, err
	}
	return r, nil
}
