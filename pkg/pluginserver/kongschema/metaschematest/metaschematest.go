// Package metaschematest checks, in tests, that a plugin schema would be
// accepted by Kong's MetaSubSchema (kong/db/schema/metaschema.lua, 3.4–3.10;
// kong-reference §1.3). It is written apart from package kongschema's own
// validation so that the two can disagree; import it from tests only.
package metaschematest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Check is a test-side model of Kong's MetaSubSchema
// (kong/db/schema/metaschema.lua as of 3.4–3.10, kong-reference §1.3),
// applied to a schema as Kong decodes it from the dump. It is written
// independently of the package's own Check so that the two can disagree.
// It also applies the plugins entity's rule for the top-level fields of a
// plugin subschema (only config, a record, is emitted).
func Check(schemaJSON []byte) error {
	var top map[string]any
	if err := json.Unmarshal(schemaJSON, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	for k := range top {
		switch k {
		case "name", "fields", "entity_checks", "shorthands", "check":
		default:
			return fmt.Errorf("%s: unknown field", k)
		}
	}
	if name, ok := top["name"].(string); !ok || name == "" {
		return fmt.Errorf("name: required field missing")
	}
	fields, ok := top["fields"].([]any)
	if !ok {
		return fmt.Errorf("fields: 'fields' must be a table")
	}
	if err := metaFields(fields, "fields"); err != nil {
		return err
	}
	for _, item := range fields {
		for name, f := range item.(map[string]any) {
			ft := f.(map[string]any)["type"]
			switch name {
			case "config":
				if ft != "record" {
					return fmt.Errorf("config: must be a record")
				}
			case "protocols", "consumer", "route", "service", "enabled", "tags", "instance_name":
			default:
				return fmt.Errorf("%s: not a field of the plugins entity", name)
			}
		}
	}
	return nil
}

var metaValidTypes = map[string]bool{
	"array": true, "set": true, "string": true, "number": true, "boolean": true, "integer": true,
	"foreign": true, "map": true, "record": true, "function": true, "json": true,
}

// Field attributes the 3.4 metaschema knows ("description" came later).
var metaAttributes = map[string]string{
	"type": "string", "required": "boolean", "reference": "string", "auto": "boolean",
	"unique": "boolean", "unique_across_ws": "boolean", "on_delete": "string", "default": "self",
	"abstract": "boolean", "generate_admin_api": "boolean", "legacy": "boolean", "immutable": "boolean",
	"err": "string", "encrypted": "boolean",
	"between": "integer-pair", "eq": "any", "ne": "any", "gt": "number", "len_eq": "integer",
	"len_min": "integer", "len_max": "integer", "match": "string", "not_match": "string",
	"match_all": "any", "match_none": "any", "match_any": "any", "starts_with": "string",
	"one_of": "array", "not_one_of": "array", "contains": "any", "is_regex": "boolean",
	"timestamp": "boolean", "uuid": "boolean", "custom_validator": "function",
	"mutually_exclusive_subsets": "any",
	"elements":                   "field", "keys": "field", "values": "field", "fields": "fields",
	"entity_checks": "any", "shorthands": "any", "shorthand_fields": "any",
}

var metaAttributeTypes = map[string][]string{
	"between":   {"integer", "number"},
	"len_eq":    {"array", "set", "string", "map"},
	"match":     {"string"},
	"one_of":    {"string", "number", "integer"},
	"contains":  {"array", "set"},
	"is_regex":  {"string"},
	"timestamp": {"number", "integer"},
	"uuid":      {"string"},
	"unique":    {"string", "number", "integer", "foreign"},
}

var metaRequiredAttributes = map[string][]string{
	"array": {"elements"}, "set": {"elements"}, "map": {"keys", "values"}, "record": {"fields"}, "json": {"json_schema"},
}

func metaFields(fields []any, path string) error {
	for i, item := range fields {
		entry, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("%s[%d]: each entry in fields must be a sub-table", path, i+1)
		}
		if len(entry) != 1 {
			return fmt.Errorf("%s[%d]: each entry must hold exactly one field, has %d", path, i+1, len(entry))
		}
		for name, f := range entry {
			field, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: must be a table", path, name)
			}
			if err := metaField(field, path+"."+name); err != nil {
				return err
			}
		}
	}
	return nil
}

func metaField(f map[string]any, path string) error {
	typ, ok := f["type"].(string)
	if !ok {
		return fmt.Errorf("%s: missing type declaration", path)
	}
	if !metaValidTypes[typ] {
		return fmt.Errorf("%s: type %q is not a valid type", path, typ)
	}
	for _, req := range metaRequiredAttributes[typ] {
		if _, ok := f[req]; !ok {
			return fmt.Errorf("%s: field of type '%s' must declare '%s'", path, typ, req)
		}
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, attr := range keys {
		v := f[attr]
		kind, known := metaAttributes[attr]
		if !known {
			return fmt.Errorf("%s.%s: unknown field", path, attr)
		}
		if allowed, restricted := metaAttributeTypes[attr]; restricted && !contains(allowed, typ) {
			return fmt.Errorf("%s: field of type '%s' cannot have attribute '%s'", path, typ, attr)
		}
		switch kind {
		case "boolean":
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("%s.%s: expected a boolean", path, attr)
			}
		case "string":
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%s.%s: expected a string", path, attr)
			}
		case "integer":
			if !isInteger(v) {
				return fmt.Errorf("%s.%s: expected an integer", path, attr)
			}
		case "integer-pair":
			pair, ok := v.([]any)
			if !ok || len(pair) != 2 || !isInteger(pair[0]) || !isInteger(pair[1]) {
				return fmt.Errorf("%s.%s: expected two integers", path, attr)
			}
		case "array":
			if _, ok := v.([]any); !ok {
				return fmt.Errorf("%s.%s: expected an array", path, attr)
			}
		case "field":
			sub, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: '%s' must be a table", path, attr, attr)
			}
			if err := metaField(sub, path+"."+attr); err != nil {
				return err
			}
		case "fields":
			list, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s.fields: expected an array", path)
			}
			if err := metaFields(list, path); err != nil {
				return err
			}
		case "self":
			if err := metaValue(f, v, path+".default"); err != nil {
				return err
			}
		}
	}
	return nil
}

// metaValue validates a value against a field, as Kong does for a default
// ("type = self").
func metaValue(f map[string]any, v any, path string) error {
	switch f["type"] {
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: expected a string", path)
		}
		if n, ok := f["len_min"].(float64); ok && float64(len(s)) < n {
			return fmt.Errorf("%s: length must be at least %v", path, n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: expected a boolean", path)
		}
	case "integer":
		if !isInteger(v) {
			return fmt.Errorf("%s: expected an integer", path)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: expected a number", path)
		}
	case "array", "set":
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: expected an array", path)
		}
		for i, el := range list {
			if err := metaValue(f["elements"].(map[string]any), el, fmt.Sprintf("%s[%d]", path, i+1)); err != nil {
				return err
			}
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a map", path)
		}
		for k, el := range m {
			if err := metaValue(f["values"].(map[string]any), el, path+"."+k); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: no default expected for type %v", path, f["type"])
	}
	if one, ok := f["one_of"].([]any); ok {
		found := false
		for _, o := range one {
			if o == v {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: expected one of: %v", path, one)
		}
	}
	if b, ok := f["between"].([]any); ok {
		x := v.(float64)
		if x < b[0].(float64) || x > b[1].(float64) {
			return fmt.Errorf("%s: value should be between %v and %v", path, b[0], b[1])
		}
	}
	return nil
}

func isInteger(v any) bool {
	x, ok := v.(float64)
	return ok && x == math.Trunc(x) && !math.IsInf(x, 0)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
