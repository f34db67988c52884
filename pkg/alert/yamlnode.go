package alert

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is a rule-file error: the file, the line and the dotted field
// it is about, and why. Every error Parse returns is one.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// mapping is one YAML mapping being decoded: it hands out values by key and
// afterwards rejects keys nobody asked for, so that a misspelt option is an
// error rather than a silent default.
type mapping struct {
	file  string
	path  string
	node  *yaml.Node
	known map[string]bool
}

func (p *parser) mapping(n *yaml.Node, path string) (*mapping, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, path, "expected a mapping, got %s", describe(n))
	}
	return &mapping{file: p.file, path: path, node: n, known: map[string]bool{}}, nil
}

// get returns the value node of key, or nil when absent or null.
func (m *mapping) get(key string) *yaml.Node {
	m.known[key] = true
	for i := 0; i+1 < len(m.node.Content); i += 2 {
		if m.node.Content[i].Value == key {
			v := deref(m.node.Content[i+1])
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return nil
			}
			return v
		}
	}
	return nil
}

func (m *mapping) field(key string) string { return join(m.path, key) }

// allow declares keys as known before they are read, so that unknown can
// run first: a misspelt optional key is a better error than the required
// key it was meant to be.
func (m *mapping) allow(keys ...string) {
	for _, k := range keys {
		m.known[k] = true
	}
}

// unknown reports the first key that get was never asked for.
func (m *mapping) unknown() error {
	for i := 0; i+1 < len(m.node.Content); i += 2 {
		k := m.node.Content[i]
		if !m.known[k.Value] {
			return &FieldError{File: m.file, Line: k.Line, Field: join(m.path, k.Value), Msg: "unknown field"}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

type parser struct {
	file string
}

func (p *parser) errf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &FieldError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) str(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n, field, "expected a string, got %s", describe(n))
	}
	return n.Value, nil
}

func (p *parser) strs(n *yaml.Node, field string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n, field, "expected a list of strings, got %s", describe(n))
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = deref(c)
		s, err := p.str(c, fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *parser) duration(n *yaml.Node, field string) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, p.errf(n, field, "expected a duration such as 30s or 5m, got %s", describe(n))
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < 0 {
		return 0, p.errf(n, field, "expected a non-negative duration such as 30s or 5m, got %q", n.Value)
	}
	return d, nil
}

func (p *parser) positiveInt(n *yaml.Node, field string) (int, error) {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 {
		return 0, p.errf(n, field, "expected a positive integer, got %s", describe(n))
	}
	return v, nil
}

func (p *parser) float(n *yaml.Node, field string) (float64, error) {
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil {
		return 0, p.errf(n, field, "expected a number, got %s", describe(n))
	}
	return v, nil
}

func (p *parser) boolean(n *yaml.Node, field string) (bool, error) {
	v, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return false, p.errf(n, field, "expected true or false, got %s", describe(n))
	}
	return v, nil
}

func (p *parser) stringMap(n *yaml.Node, field string) (map[string]string, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, field, "expected a mapping of strings, got %s", describe(n))
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		s, err := p.str(deref(n.Content[i+1]), join(field, k.Value))
		if err != nil {
			return nil, err
		}
		out[k.Value] = s
	}
	return out, nil
}
