// Package jsonschema validates JSON documents against the subset of JSON
// Schema (2020-12) that gatewatch's published schemas use: type, required,
// properties, additionalProperties: false, enum, items, minLength,
// maxLength and local $ref into $defs. It exists so that tests can hold the
// code to the documented contract; a keyword it does not know is an error,
// so a schema cannot silently outgrow it.
package jsonschema

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Schema is a parsed schema document.
type Schema struct {
	root map[string]any
}

var known = map[string]bool{
	"$schema": true, "$id": true, "title": true, "description": true, "format": true,
	"type": true, "required": true, "properties": true, "additionalProperties": true,
	"enum": true, "items": true, "minLength": true, "maxLength": true, "$ref": true, "$defs": true,
}

// Parse reads a schema and checks that it uses only supported keywords.
func Parse(data []byte) (*Schema, error) {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("jsonschema: %w", err)
	}
	if err := checkKeywords(root, "#"); err != nil {
		return nil, err
	}
	return &Schema{root: root}, nil
}

func checkKeywords(s map[string]any, at string) error {
	for k, v := range s {
		if !known[k] {
			return fmt.Errorf("jsonschema: %s: unsupported keyword %q", at, k)
		}
		switch k {
		case "properties", "$defs":
			m, _ := v.(map[string]any)
			for name, sub := range m {
				sm, ok := sub.(map[string]any)
				if !ok {
					return fmt.Errorf("jsonschema: %s/%s/%s: not a schema", at, k, name)
				}
				if err := checkKeywords(sm, at+"/"+k+"/"+name); err != nil {
					return err
				}
			}
		case "items":
			sm, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("jsonschema: %s/items: not a schema", at)
			}
			if err := checkKeywords(sm, at+"/items"); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks one JSON document and returns every violation, each
// naming the JSON path where it was found.
func (s *Schema) Validate(doc []byte) []string {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	s.validate(s.root, v, "$", &errs)
	return errs
}

func (s *Schema) resolve(sch map[string]any) map[string]any {
	ref, ok := sch["$ref"].(string)
	if !ok {
		return sch
	}
	name := strings.TrimPrefix(ref, "#/$defs/")
	defs, _ := s.root["$defs"].(map[string]any)
	if d, ok := defs[name].(map[string]any); ok {
		return d
	}
	return map[string]any{"enum": []any{}} // an unresolvable ref matches nothing
}

func (s *Schema) validate(sch map[string]any, v any, path string, errs *[]string) {
	sch = s.resolve(sch)
	if t, ok := sch["type"].(string); ok && !hasType(v, t) {
		*errs = append(*errs, fmt.Sprintf("%s: expected %s, got %s", path, t, typeOf(v)))
		return
	}
	if enum, ok := sch["enum"].([]any); ok && !inEnum(v, enum) {
		*errs = append(*errs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if m, ok := sch["minLength"].(float64); ok && float64(n) < m {
			*errs = append(*errs, fmt.Sprintf("%s: shorter than %v", path, m))
		}
		if m, ok := sch["maxLength"].(float64); ok && float64(n) > m {
			*errs = append(*errs, fmt.Sprintf("%s: longer than %v", path, m))
		}
	}
	switch val := v.(type) {
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		if req, ok := sch["required"].([]any); ok {
			for _, r := range req {
				if _, present := val[r.(string)]; !present {
					*errs = append(*errs, fmt.Sprintf("%s: missing required %q", path, r))
				}
			}
		}
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if sub, ok := props[k].(map[string]any); ok {
				s.validate(sub, val[k], path+"."+k, errs)
			} else if ap, ok := sch["additionalProperties"].(bool); ok && !ap {
				*errs = append(*errs, fmt.Sprintf("%s: unexpected property %q", path, k))
			} else if apSchema, ok := sch["additionalProperties"].(map[string]any); ok {
				s.validate(apSchema, val[k], path+"."+k, errs)
			}
		}
	case []any:
		if items, ok := sch["items"].(map[string]any); ok {
			for i, it := range val {
				s.validate(items, it, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	case "null":
		return v == nil
	}
	return false
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func inEnum(v any, enum []any) bool {
	for _, e := range enum {
		switch ev := e.(type) {
		case float64:
			if n, ok := v.(json.Number); ok {
				if f, err := n.Float64(); err == nil && f == ev {
					return true
				}
			}
		default:
			if v == e {
				return true
			}
		}
	}
	return false
}
