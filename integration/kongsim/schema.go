package kongsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// field is one node of a Kong schema (kong-reference §1.3): a type plus the
// validation attributes kongsim enforces. Attributes Kong accepts but that do
// not change what a plugin receives are parsed and ignored.
type field struct {
	name     string
	typ      string
	required bool
	// requiredSet is true when the schema said required explicitly;
	// records are implicitly required otherwise (Entity.new_subschema).
	requiredSet bool
	def         any
	hasDefault  bool
	oneOf       []any
	between     []float64
	gt          *float64
	lenMin      *int
	lenMax      *int
	elements    *field
	keys        *field
	values      *field
	fields      []*field
	// open records accept any keys (bundled plugins kongsim does not run).
	open bool
}

// fieldTypes are the types Kong's metaschema accepts.
var fieldTypes = map[string]bool{
	"array": true, "set": true, "string": true, "number": true, "boolean": true,
	"integer": true, "foreign": true, "map": true, "record": true, "function": true, "json": true,
}

// knownAttributes are the field attributes of Kong's MetaSchema; anything
// else is an unknown field there too.
var knownAttributes = map[string]bool{
	"type": true, "required": true, "default": true, "one_of": true, "not_one_of": true,
	"between": true, "gt": true, "eq": true, "ne": true, "len_eq": true, "len_min": true,
	"len_max": true, "match": true, "match_all": true, "match_any": true, "match_none": true,
	"not_match": true, "starts_with": true, "contains": true, "is_regex": true, "uuid": true,
	"timestamp": true, "description": true, "examples": true, "deprecation": true,
	"elements": true, "keys": true, "values": true, "fields": true, "json_schema": true,
	"reference": true, "on_delete": true, "auto": true, "unique": true, "unique_across_ws": true,
	"immutable": true, "encrypted": true, "referenceable": true, "indexed": true,
	"legacy": true, "abstract": true, "err": true, "custom_validator": true,
	"mutually_exclusive_subsets": true, "shorthand_fields": true, "translate_backwards": true,
	"generate_admin_api": true, "nilable": true,
}

// pluginEntityFields are the top-level fields of Kong's plugins entity; a
// subschema may only name these (kong-reference §1.3).
var pluginEntityFields = map[string]string{
	"id": "string", "name": "string", "instance_name": "string", "created_at": "integer",
	"updated_at": "integer", "route": "foreign", "service": "foreign", "consumer": "foreign",
	"config": "record", "protocols": "set", "enabled": "boolean", "tags": "set",
}

// parsePluginSchema checks a dumped plugin schema the way Kong's
// MetaSubSchema does and returns its config record.
func parsePluginSchema(raw json.RawMessage) (*field, error) {
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if top == nil {
		return nil, errors.New("schema: not an object")
	}
	if s, ok := top["name"].(string); !ok || s == "" {
		return nil, errors.New("schema: name: required field missing")
	}
	list, ok := top["fields"].([]any)
	if !ok {
		return nil, errors.New("schema: fields: required field missing")
	}
	var config *field
	for _, item := range list {
		f, err := parseFieldEntry(item, "")
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		want, ok := pluginEntityFields[f.name]
		if !ok {
			return nil, fmt.Errorf("schema: %s: unknown field in plugins entity", f.name)
		}
		if f.typ != want {
			return nil, fmt.Errorf("schema: %s: must be of type %s", f.name, want)
		}
		if f.name == "config" {
			config = f
		}
	}
	if config == nil {
		// A plugin without config fields still gets an empty config record.
		config = &field{name: "config", typ: "record", required: true}
	}
	return config, nil
}

// parseFieldEntry reads one `{name: {attributes}}` element of a fields list.
func parseFieldEntry(item any, parent string) (*field, error) {
	m, ok := item.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("%sfields: each entry must be a single-key object", parent)
	}
	for name, attrs := range m {
		a, ok := attrs.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s%s: expected a record", parent, name)
		}
		f, err := parseField(name, a, parent+name+".")
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("%sfields: empty entry", parent)
}

func parseField(name string, a map[string]any, path string) (*field, error) {
	here := strings.TrimSuffix(path, ".")
	for k := range a {
		if !knownAttributes[k] {
			return nil, fmt.Errorf("%s: %s: unknown field", here, k)
		}
	}
	f := &field{name: name}
	typ, _ := a["type"].(string)
	if !fieldTypes[typ] {
		return nil, fmt.Errorf("%s: type: missing or invalid type %v", here, a["type"])
	}
	f.typ = typ
	if v, ok := a["required"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s: required: expected a boolean", here)
		}
		f.required, f.requiredSet = b, true
	}
	if typ == "record" && !f.requiredSet {
		f.required = true // Entity.new_subschema marks records required
	}
	if v, ok := a["one_of"]; ok {
		if typ != "string" && typ != "number" && typ != "integer" {
			return nil, fmt.Errorf("%s: one_of: only allowed on string, number and integer", here)
		}
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("%s: one_of: expected a non-empty array", here)
		}
		f.oneOf = list
	}
	if v, ok := a["between"]; ok {
		if typ != "integer" && typ != "number" {
			return nil, fmt.Errorf("%s: between: only allowed on integer and number", here)
		}
		list, ok := v.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("%s: between: expected two numbers", here)
		}
		for _, n := range list {
			x, ok := n.(float64)
			if !ok {
				return nil, fmt.Errorf("%s: between: expected two numbers", here)
			}
			f.between = append(f.between, x)
		}
	}
	if v, ok := a["gt"]; ok {
		x, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%s: gt: expected a number", here)
		}
		f.gt = &x
	}
	for attr, dst := range map[string]**int{"len_min": &f.lenMin, "len_max": &f.lenMax} {
		if v, ok := a[attr]; ok {
			x, ok := v.(float64)
			if !ok || x != math.Trunc(x) {
				return nil, fmt.Errorf("%s: %s: expected an integer", here, attr)
			}
			n := int(x)
			*dst = &n
		}
	}
	sub := func(attr string) (*field, error) {
		v, ok := a[attr].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s: required field missing", here, attr)
		}
		return parseField(attr, v, path+attr+".")
	}
	var err error
	switch typ {
	case "array", "set":
		if f.elements, err = sub("elements"); err != nil {
			return nil, err
		}
	case "map":
		if f.keys, err = sub("keys"); err != nil {
			return nil, err
		}
		if f.values, err = sub("values"); err != nil {
			return nil, err
		}
	case "record":
		list, ok := a["fields"].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: fields: required field missing", here)
		}
		for _, item := range list {
			c, err := parseFieldEntry(item, path)
			if err != nil {
				return nil, err
			}
			f.fields = append(f.fields, c)
		}
	case "json":
		if _, ok := a["json_schema"]; !ok {
			return nil, fmt.Errorf("%s: json_schema: required field missing", here)
		}
	}
	if v, ok := a["default"]; ok && v != nil {
		if errs := f.check(v, here); len(errs) > 0 {
			return nil, fmt.Errorf("%s: default: %s", here, strings.TrimPrefix(errs[0], here+": "))
		}
		f.def, f.hasDefault = v, true
	}
	return f, nil
}

// ValidateConfig checks a plugin config the way Kong validates a plugin
// entity's config against its schema, and returns the config as Kong stores
// it: defaults applied, nested records present, unset fields absent.
//
// schema is either a whole plugin schema as dumped by a plugin server
// (`{"name":…,"fields":[{"config":{…}}]}`) or a config record
// (`{"type":"record","fields":[…]}`). conf may be nil. Errors name the field
// as Kong does, e.g. `config.mode: expected one of: monitor, block`; all
// violations are reported, sorted, in one error.
func ValidateConfig(schema json.RawMessage, conf map[string]any) (map[string]any, error) {
	rec, err := parseConfigRecord(schema)
	if err != nil {
		return nil, err
	}
	return validateWith(rec, conf)
}

func parseConfigRecord(schema json.RawMessage) (*field, error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(schema, &probe); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if probe.Type == "record" {
		var a map[string]any
		if err := json.Unmarshal(schema, &a); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		return parseField("config", a, "config.")
	}
	return parsePluginSchema(schema)
}

// validateWith validates conf against a parsed config record.
func validateWith(rec *field, conf map[string]any) (map[string]any, error) {
	var in any = conf
	if conf == nil {
		in = nil
	}
	out, errs := rec.apply(in, "config")
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, &ConfigError{Problems: errs}
	}
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ConfigError lists every schema violation of one plugin config, each as
// `<field path>: <Kong's message>`.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "schema violation (" + strings.Join(e.Problems, "; ") + ")"
}

// apply fills defaults into v (nil = absent) and validates the result.
func (f *field) apply(v any, path string) (any, []string) {
	if v == nil {
		switch {
		case f.hasDefault:
			v = deepCopy(f.def)
		case f.typ == "record" && f.required:
			v = map[string]any{}
		case f.required:
			return nil, []string{path + ": required field missing"}
		default:
			return nil, nil
		}
	}
	if f.typ == "record" {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, []string{path + ": expected a record"}
		}
		if f.open {
			return normalize(m), nil
		}
		out := map[string]any{}
		var errs []string
		known := map[string]bool{}
		for _, c := range f.fields {
			known[c.name] = true
			cv, cerrs := c.apply(m[c.name], path+"."+c.name)
			errs = append(errs, cerrs...)
			if cv != nil {
				out[c.name] = cv
			}
		}
		for k := range m {
			if !known[k] {
				errs = append(errs, path+"."+k+": unknown field")
			}
		}
		return out, errs
	}
	if errs := f.check(v, path); len(errs) > 0 {
		return nil, errs
	}
	return normalize(v), nil
}

// check validates a non-record value.
func (f *field) check(v any, path string) []string {
	switch f.typ {
	case "string":
		s, ok := v.(string)
		if !ok {
			return []string{path + ": expected a string"}
		}
		if f.lenMin != nil && len(s) < *f.lenMin {
			return []string{fmt.Sprintf("%s: length must be at least %d", path, *f.lenMin)}
		}
		if f.lenMax != nil && len(s) > *f.lenMax {
			return []string{fmt.Sprintf("%s: length must be at most %d", path, *f.lenMax)}
		}
	case "integer", "number":
		x, ok := toFloat(v)
		if !ok {
			return []string{path + ": expected " + article(f.typ)}
		}
		if f.typ == "integer" && (x != math.Trunc(x) || math.IsInf(x, 0)) {
			return []string{path + ": expected an integer"}
		}
		if len(f.between) == 2 && (x < f.between[0] || x > f.between[1]) {
			return []string{fmt.Sprintf("%s: value should be between %s and %s", path, num(f.between[0]), num(f.between[1]))}
		}
		if f.gt != nil && x <= *f.gt {
			return []string{fmt.Sprintf("%s: value must be greater than %s", path, num(*f.gt))}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{path + ": expected a boolean"}
		}
	case "array", "set":
		list, ok := v.([]any)
		if !ok {
			return []string{path + ": expected " + article(f.typ)}
		}
		if f.lenMin != nil && len(list) < *f.lenMin {
			return []string{fmt.Sprintf("%s: length must be at least %d", path, *f.lenMin)}
		}
		if f.lenMax != nil && len(list) > *f.lenMax {
			return []string{fmt.Sprintf("%s: length must be at most %d", path, *f.lenMax)}
		}
		var errs []string
		for i, e := range list {
			if e == nil {
				errs = append(errs, fmt.Sprintf("%s.%d: required field missing", path, i+1))
				continue
			}
			if f.elements.typ == "record" {
				_, es := f.elements.apply(e, fmt.Sprintf("%s.%d", path, i+1))
				errs = append(errs, es...)
				continue
			}
			errs = append(errs, f.elements.check(e, fmt.Sprintf("%s.%d", path, i+1))...)
		}
		return errs
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{path + ": expected a map"}
		}
		var errs []string
		for k, e := range m {
			errs = append(errs, f.keys.check(k, path)...)
			if f.values.typ == "record" {
				_, es := f.values.apply(e, path+"."+k)
				errs = append(errs, es...)
				continue
			}
			errs = append(errs, f.values.check(e, path+"."+k)...)
		}
		return errs
	case "record":
		_, errs := f.apply(v, path)
		return errs
	}
	if len(f.oneOf) > 0 {
		for _, o := range f.oneOf {
			if equalScalar(o, v) {
				return nil
			}
		}
		names := make([]string, len(f.oneOf))
		for i, o := range f.oneOf {
			names[i] = fmt.Sprint(o)
		}
		return []string{path + ": expected one of: " + strings.Join(names, ", ")}
	}
	return nil
}

// normalize turns YAML/JSON numbers into float64 and copies containers so
// that stored configs never alias the caller's maps.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

func deepCopy(v any) any { return normalize(v) }

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func equalScalar(a, b any) bool {
	fa, aok := toFloat(a)
	fb, bok := toFloat(b)
	if aok && bok {
		return fa == fb
	}
	return a == b
}

func article(typ string) string {
	switch typ {
	case "integer", "array":
		return "an " + typ
	}
	return "a " + typ
}

// num formats a number as Lua's tostring does for integral values.
func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return fmt.Sprintf("%d", int64(x))
	}
	return fmt.Sprint(x)
}
