package kongschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error about a config type or a kong tag.
var ErrInvalid = errors.New("invalid plugin config schema")

// maxSafeInt bounds unsigned fields: Kong numbers are Lua doubles, exact up
// to 2^53.
const maxSafeInt = 1 << 53

// Generate builds the schema named name from cfg, a struct or a pointer to
// one (typically what the plugin's New returns).
func Generate(name string, cfg any) (*Schema, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty plugin name", ErrInvalid)
	}
	t := reflect.TypeOf(cfg)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: config must be a struct or a pointer to one, got %T", ErrInvalid, cfg)
	}
	g := generator{seen: map[reflect.Type]bool{}}
	fields, err := g.fields(t, "config")
	if err != nil {
		return nil, err
	}
	return &Schema{Name: name, Config: Field{Name: "config", Type: TypeRecord, Fields: fields}}, nil
}

type generator struct {
	seen map[reflect.Type]bool // records on the current path, to refuse recursion
}

// fields lists a struct's fields the way encoding/json sees them: exported,
// not `json:"-"`, untagged embedded structs flattened.
func (g *generator) fields(t reflect.Type, path string) ([]Field, error) {
	if g.seen[t] {
		return nil, fmt.Errorf("%w: %s: recursive type %s", ErrInvalid, path, t)
	}
	g.seen[t] = true
	defer delete(g.seen, t)

	var out []Field
	names := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		jsonName, skip := jsonFieldName(sf)
		if skip {
			continue
		}
		goPath := path + "." + sf.Name
		if et := derefType(sf.Type); sf.Anonymous && jsonName == "" && et.Kind() == reflect.Struct {
			// encoding/json promotes the fields of an untagged embedded
			// struct, exported or not; so does the schema.
			if sf.Tag.Get("kong") != "" {
				return nil, fmt.Errorf("%w: %s: kong tag on an embedded struct", ErrInvalid, goPath)
			}
			inner, err := g.fields(et, goPath)
			if err != nil {
				return nil, err
			}
			for _, f := range inner {
				if prev, dup := names[f.Name]; dup {
					return nil, fmt.Errorf("%w: %s: field name %q also used by %s", ErrInvalid, goPath, f.Name, prev)
				}
				names[f.Name] = goPath
				out = append(out, f)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if jsonName == "" {
			jsonName = sf.Name // what encoding/json matches (case-insensitively)
		}
		if prev, dup := names[jsonName]; dup {
			return nil, fmt.Errorf("%w: %s: field name %q also used by %s", ErrInvalid, goPath, jsonName, prev)
		}
		names[jsonName] = goPath
		f, err := g.field(sf.Type, goPath)
		if err != nil {
			return nil, err
		}
		f.Name = jsonName
		if err := applyTag(&f, sf.Type, sf.Tag.Get("kong"), goPath); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// jsonFieldName returns the name part of the json tag (never its options,
// unlike go-pdk v0.11.2) and whether encoding/json ignores the field.
func jsonFieldName(sf reflect.StructField) (name string, skip bool) {
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", true
	}
	name, _, _ = strings.Cut(tag, ",")
	return name, false
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// field maps a Go type to a Kong field without attributes.
func (g *generator) field(t reflect.Type, path string) (Field, error) {
	t = derefType(t)
	switch t.Kind() {
	case reflect.String:
		return Field{Type: TypeString}, nil
	case reflect.Bool:
		return Field{Type: TypeBoolean}, nil
	case reflect.Int, reflect.Int64:
		return Field{Type: TypeInteger}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32:
		bits := t.Bits()
		return Field{Type: TypeInteger, Between: []int64{-1 << (bits - 1), 1<<(bits-1) - 1}}, nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return Field{Type: TypeInteger, Between: []int64{0, 1<<t.Bits() - 1}}, nil
	case reflect.Uint, reflect.Uint64:
		return Field{Type: TypeInteger, Between: []int64{0, maxSafeInt}}, nil
	case reflect.Float32, reflect.Float64:
		return Field{Type: TypeNumber}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Field{}, fmt.Errorf("%w: %s: byte slices and arrays have no Kong type (use string)", ErrInvalid, path)
		}
		el, err := g.field(t.Elem(), path+"[]")
		if err != nil {
			return Field{}, err
		}
		return Field{Type: TypeArray, Elements: &el}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return Field{}, fmt.Errorf("%w: %s: map keys must be strings, got %s", ErrInvalid, path, t.Key())
		}
		val, err := g.field(t.Elem(), path+"{}")
		if err != nil {
			return Field{}, err
		}
		return Field{Type: TypeMap, Keys: &Field{Type: TypeString}, Values: &val}, nil
	case reflect.Struct:
		fields, err := g.fields(t, path)
		if err != nil {
			return Field{}, err
		}
		return Field{Type: TypeRecord, Fields: fields}, nil
	default:
		return Field{}, fmt.Errorf("%w: %s: type %s has no Kong type (tag it json:\"-\" or make it unexported)", ErrInvalid, path, t)
	}
}

// applyTag parses a kong tag onto f, checking each attribute against the
// field type the way Kong's metaschema would, and the default against all
// of the field's constraints.
func applyTag(f *Field, goType reflect.Type, tag, path string) error {
	if tag == "" {
		return nil
	}
	attrs, err := splitTag(tag)
	if err != nil {
		return fmt.Errorf("%w: %s: kong tag: %v", ErrInvalid, path, err)
	}
	var rawDefault *string
	seen := map[string]bool{}
	for _, a := range attrs {
		key, val, hasVal := strings.Cut(a, "=")
		key = strings.TrimSpace(key)
		if seen[key] {
			return fmt.Errorf("%w: %s: kong tag: attribute %q given twice", ErrInvalid, path, key)
		}
		seen[key] = true
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: kong tag %q: %s", ErrInvalid, path, key, fmt.Sprintf(format, args...))
		}
		// Kong forbids one_of and between on arrays; on an array field they
		// mean the elements.
		target := f
		if (key == "one_of" || key == "between") && f.Type == TypeArray {
			target = f.Elements
		}
		switch key {
		case "default":
			if !hasVal {
				return fail("needs a value")
			}
			v := val
			rawDefault = &v
		case "required":
			switch val {
			case "", "true":
				if hasVal && val == "" {
					return fail("needs true or false")
				}
				f.Required = true
			case "false":
				f.Required = false
			default:
				return fail("must be true or false, got %q", val)
			}
		case "one_of":
			if !hasVal || val == "" {
				return fail("needs a|b|… values")
			}
			switch target.Type {
			case TypeString, TypeInteger, TypeNumber:
			default:
				return fail("not allowed on %s field", article(target.Type))
			}
			target.OneOf = nil
			for _, s := range strings.Split(val, "|") {
				v, err := scalar(target.Type, s)
				if err != nil {
					return fail("value %q: %v", s, err)
				}
				target.OneOf = append(target.OneOf, v)
			}
		case "between":
			if target.Type != TypeInteger && target.Type != TypeNumber {
				return fail("not allowed on %s field", article(target.Type))
			}
			lo, hi, ok := strings.Cut(val, "|")
			if !ok {
				return fail("needs lo|hi, got %q", val)
			}
			l, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
			h, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
			if err1 != nil || err2 != nil {
				return fail("bounds must be integers (Kong's metaschema types them so), got %q", val)
			}
			if l > h {
				return fail("lower bound %d above upper bound %d", l, h)
			}
			if implicit := target.Between; implicit != nil && (l < implicit[0] || h > implicit[1]) {
				return fail("[%d, %d] exceeds the Go type's range [%d, %d]", l, h, implicit[0], implicit[1])
			}
			target.Between = []int64{l, h}
		case "len_min":
			switch f.Type {
			case TypeString, TypeArray, TypeMap:
			default:
				return fail("not allowed on %s field", article(f.Type))
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fail("needs a non-negative integer, got %q", val)
			}
			f.LenMin = &n
		case "description":
			if strings.TrimSpace(val) == "" {
				return fail("needs text")
			}
			f.Description = val
		default:
			return fail("unknown attribute (known: default, one_of, between, required, len_min, description)")
		}
	}
	if rawDefault != nil {
		if f.Type == TypeRecord {
			return fmt.Errorf("%w: %s: kong tag \"default\": not allowed on a record (give its fields defaults)", ErrInvalid, path)
		}
		def, err := defaultJSON(f, goType, *rawDefault)
		if err != nil {
			return fmt.Errorf("%w: %s: kong tag \"default\": %v", ErrInvalid, path, err)
		}
		f.Default = def
	}
	return nil
}

// attrAfterDescription finds an attribute written after a description.
var attrAfterDescription = regexp.MustCompile(`;\s*(default|one_of|between|len_min|description)=|;\s*(required)(=|;|$)`)

// splitTag splits on ';' outside JSON strings and brackets, so that a JSON
// default may contain ';'. A description runs to the end of the tag, so
// that prose may contain ';' too; an attribute after it is an error rather
// than silently part of the text.
func splitTag(tag string) ([]string, error) {
	var parts []string
	depth, start, inString, escaped := 0, 0, false, false
	for i := 0; i < len(tag); i++ {
		if i == start && depth == 0 && strings.HasPrefix(strings.TrimLeft(tag[i:], " "), "description=") {
			text := tag[i:]
			if m := attrAfterDescription.FindStringSubmatch(text); m != nil {
				return nil, fmt.Errorf("description must be the last attribute (found %q after it)", m[1]+m[2])
			}
			parts = append(parts, text)
			start = len(tag)
			break
		}
		c := tag[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ';' && depth == 0:
			parts = append(parts, tag[start:i])
			start = i + 1
		}
	}
	if start == len(tag) && len(parts) > 0 {
		return parts, nil // ended with a description
	}
	if inString || depth != 0 {
		return nil, fmt.Errorf("unbalanced quotes or brackets in %q", tag)
	}
	parts = append(parts, tag[start:])
	out := parts[:0]
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("empty attribute in %q", tag)
		}
		out = append(out, p)
	}
	return out, nil
}

// scalar parses a one_of value for a field of type typ.
func scalar(typ, s string) (any, error) {
	switch typ {
	case TypeInteger:
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	case TypeNumber:
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err == nil && (math.IsInf(v, 0) || math.IsNaN(v)) {
			err = errors.New("not a finite number")
		}
		return v, err
	default:
		if s == "" {
			return nil, errors.New("empty value")
		}
		return s, nil
	}
}

// defaultJSON turns a tag's default into compact JSON after checking that
// it decodes into the Go type and satisfies the field's constraints.
func defaultJSON(f *Field, goType reflect.Type, raw string) (json.RawMessage, error) {
	lit := []byte(raw)
	if f.Type == TypeString && !strings.HasPrefix(raw, `"`) {
		lit, _ = json.Marshal(raw)
	}
	if !json.Valid(lit) {
		return nil, fmt.Errorf("%q is not a JSON literal", raw)
	}
	// Decoding into the real Go type checks the type and the Go range.
	target := reflect.New(goType)
	dec := json.NewDecoder(bytes.NewReader(lit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target.Interface()); err != nil {
		return nil, fmt.Errorf("%s does not fit the field: %v", lit, err)
	}
	var generic any
	dec = json.NewDecoder(bytes.NewReader(lit))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	if generic == nil {
		return nil, errors.New("null is not a default (leave it out)")
	}
	if err := Check(f, generic); err != nil {
		return nil, fmt.Errorf("%s: %v", lit, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, lit); err != nil {
		return nil, err
	}
	return compact.Bytes(), nil
}

func article(typ string) string {
	if typ == TypeInteger || typ == TypeArray {
		return "an " + typ
	}
	return "a " + typ
}
