package kongschema

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Check validates a decoded JSON value (decoded with UseNumber, so numbers
// are json.Number) against f, the way Kong validates a plugin config: types,
// unknown record fields, required fields, one_of, between, len_min. Errors
// name the field path.
func Check(f *Field, v any) error {
	return check(f, v, f.Name)
}

func check(f *Field, v any, path string) error {
	if path == "" {
		path = "value"
	}
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: expected a string", path)
		}
		if f.LenMin != nil && len(s) < *f.LenMin {
			return fmt.Errorf("%s: length must be at least %d", path, *f.LenMin)
		}
		if f.OneOf != nil && !oneOf(f.OneOf, s) {
			return fmt.Errorf("%s: expected one of: %s", path, listOneOf(f.OneOf))
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: expected a boolean", path)
		}
	case TypeInteger, TypeNumber:
		want := "expected a number"
		if f.Type == TypeInteger {
			want = "expected an integer"
		}
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %s", path, want)
		}
		x, err := n.Float64()
		if err != nil || math.IsInf(x, 0) {
			return fmt.Errorf("%s: %s", path, want)
		}
		if f.Type == TypeInteger && x != math.Trunc(x) {
			return fmt.Errorf("%s: expected an integer", path)
		}
		if f.Between != nil && (x < float64(f.Between[0]) || x > float64(f.Between[1])) {
			return fmt.Errorf("%s: value should be between %d and %d", path, f.Between[0], f.Between[1])
		}
		if f.OneOf != nil && !oneOf(f.OneOf, x) {
			return fmt.Errorf("%s: expected one of: %s", path, listOneOf(f.OneOf))
		}
	case TypeArray:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: expected an array", path)
		}
		if f.LenMin != nil && len(list) < *f.LenMin {
			return fmt.Errorf("%s: length must be at least %d", path, *f.LenMin)
		}
		for i, el := range list {
			if err := check(f.Elements, el, fmt.Sprintf("%s[%d]", path, i+1)); err != nil {
				return err
			}
		}
	case TypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a map", path)
		}
		if f.LenMin != nil && len(m) < *f.LenMin {
			return fmt.Errorf("%s: length must be at least %d", path, *f.LenMin)
		}
		for _, k := range sortedKeys(m) {
			if err := check(f.Values, m[k], path+"."+k); err != nil {
				return err
			}
		}
	case TypeRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a record", path)
		}
		known := make(map[string]bool, len(f.Fields))
		for i := range f.Fields {
			sub := &f.Fields[i]
			known[sub.Name] = true
			val, present := m[sub.Name]
			if !present || val == nil {
				if sub.Required {
					return fmt.Errorf("%s.%s: required field missing", path, sub.Name)
				}
				continue
			}
			if err := check(sub, val, path+"."+sub.Name); err != nil {
				return err
			}
		}
		for _, k := range sortedKeys(m) {
			if !known[k] {
				return fmt.Errorf("%s.%s: unknown field", path, k)
			}
		}
	default:
		return fmt.Errorf("%s: unsupported schema type %q", path, f.Type)
	}
	return nil
}

func oneOf(allowed []any, v any) bool {
	for _, a := range allowed {
		switch a := a.(type) {
		case string:
			if s, ok := v.(string); ok && s == a {
				return true
			}
		case int64:
			if x, ok := v.(float64); ok && x == float64(a) {
				return true
			}
		case float64:
			if x, ok := v.(float64); ok && x == a {
				return true
			}
		}
	}
	return false
}

func listOneOf(allowed []any) string {
	parts := make([]string, len(allowed))
	for i, a := range allowed {
		parts[i] = fmt.Sprint(a)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Complete fills a config object in place the way Kong does before it sends
// it: absent or null fields get their default, absent records become
// objects (Kong marks every record required) and are completed in turn.
// It also reads an empty object where the schema has an array as an empty
// array, and an empty array where it has a map or record as an empty
// object: a Lua empty table may be encoded either way, and Go's decoder
// refuses the wrong one. Fields unknown to the schema (such
// as Kong's __seq__, __key__, route_id) are left alone.
func (s *Schema) Complete(cfg map[string]any) {
	completeRecord(&s.Config, cfg)
}

func completeRecord(f *Field, m map[string]any) {
	for i := range f.Fields {
		sub := &f.Fields[i]
		v, present := m[sub.Name]
		if !present || v == nil {
			switch {
			case sub.Default != nil:
				m[sub.Name] = decodeDefault(sub.Default)
			case sub.Type == TypeRecord:
				rec := map[string]any{}
				completeRecord(sub, rec)
				m[sub.Name] = rec
			default:
				delete(m, sub.Name) // Kong strips nulls
			}
			continue
		}
		m[sub.Name] = normalize(sub, v)
	}
}

func normalize(f *Field, v any) any {
	switch f.Type {
	case TypeArray:
		if obj, ok := v.(map[string]any); ok && len(obj) == 0 {
			return []any{}
		}
		if list, ok := v.([]any); ok {
			for i := range list {
				list[i] = normalize(f.Elements, list[i])
			}
		}
	case TypeMap:
		if list, ok := v.([]any); ok && len(list) == 0 {
			return map[string]any{}
		}
		if obj, ok := v.(map[string]any); ok {
			for k := range obj {
				obj[k] = normalize(f.Values, obj[k])
			}
		}
	case TypeRecord:
		if list, ok := v.([]any); ok && len(list) == 0 {
			v = map[string]any{}
		}
		if obj, ok := v.(map[string]any); ok {
			completeRecord(f, obj)
		}
	}
	return v
}

// decodeDefault returns a fresh decoded copy of a default, so that callers
// may modify what Complete inserted. Defaults were validated by Generate.
func decodeDefault(raw json.RawMessage) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	_ = dec.Decode(&v)
	return v
}
