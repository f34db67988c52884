package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decode overlays the YAML document data onto p. It walks the node tree
// itself rather than using yaml.Unmarshal, so that every error names the
// dotted key and its line, durations are Go duration strings, and secret
// values are never quoted back. It returns the line of every key it set.
func decode(data []byte, p *Process) (map[string]int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	lines := map[string]int{}
	if doc.Kind == 0 { // empty file
		return lines, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("expected one YAML document")
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return lines, nil
	}
	d := decoder{lines: lines}
	if err := d.value(root, reflect.ValueOf(p).Elem(), "", false); err != nil {
		return nil, err
	}
	return lines, nil
}

type decoder struct {
	lines map[string]int
}

var durationType = reflect.TypeOf(time.Duration(0))

func (d *decoder) value(n *yaml.Node, v reflect.Value, key string, secret bool) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "key:" with no value keeps the default
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s: %s", n.Line, key, fmt.Sprintf(format, args...))
	}
	got := func() string {
		if secret {
			return "a value"
		}
		if n.Kind != yaml.ScalarNode {
			return kindName(n.Kind)
		}
		return strconv.Quote(n.Value)
	}
	switch {
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fail("expected a mapping of keys, got %s", got())
		}
		return d.mapping(n, v, key)
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			return fail("expected a duration such as 5ms or 10s, got %s", got())
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return fail("expected a duration such as 5ms or 10s, got %s", got())
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fail("expected a string, got %s", got())
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			return fail("expected true or false, got %s", got())
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			return fail("expected an integer, got %s", got())
		}
		v.SetInt(i)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.SequenceNode {
			return fail("expected a list, got %s", got())
		}
		list := make([]string, 0, len(n.Content))
		for i, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return fmt.Errorf("line %d: %s[%d]: expected a string", item.Line, key, i)
			}
			list = append(list, item.Value)
		}
		v.Set(reflect.ValueOf(list))
	default:
		return fail("unsupported setting type %s", v.Type()) // a bug in Process, not in the file
	}
	return nil
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, prefix string) error {
	t := v.Type()
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		fields[yamlKey(t.Field(i))] = i
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name := kn.Value
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if kn.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: keys must be plain names", kn.Line, prefixOr(prefix))
		}
		idx, ok := fields[name]
		if !ok {
			return fmt.Errorf("line %d: unknown key %q (known under %s: %s)", kn.Line, key, prefixOr(prefix), strings.Join(sortedNames(fields), ", "))
		}
		if seen[name] {
			return fmt.Errorf("line %d: key %q given twice", kn.Line, key)
		}
		seen[name] = true
		d.lines[key] = kn.Line
		sf := t.Field(idx)
		if err := d.value(vn, v.Field(idx), key, sf.Tag.Get("secret") == "true"); err != nil {
			return err
		}
	}
	return nil
}

func prefixOr(prefix string) string {
	if prefix == "" {
		return "the top level"
	}
	return prefix
}

func sortedNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a value"
	}
}
