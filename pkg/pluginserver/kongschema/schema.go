// Package kongschema derives the Kong plugin schema that a plugin server
// prints in its -dump from the plugin's Go config struct, and completes the
// config JSON Kong sends with the same defaults.
//
// The struct is the single source of truth: a field's JSON name (options such
// as ",omitempty" stripped) is its Kong field name, its Go type gives the
// Kong type, and a `kong` struct tag adds what Kong's metaschema accepts:
//
//	Mode        string   `json:"mode" kong:"default=monitor;one_of=monitor|block"`
//	BlockStatus int      `json:"block_status" kong:"default=403;between=100|599"`
//	Redact      []string `json:"redact" kong:"default=[]"`
//
// Attributes are separated by ';' (outside JSON strings and brackets):
//   - default=V: a JSON literal; for string fields a bare word is the string
//     itself. Checked against the field's type and its other constraints.
//   - one_of=a|b|c: allowed values (string, integer or number fields; on an
//     array field it constrains the elements, as Kong forbids it on arrays).
//   - between=lo|hi: inclusive integer bounds (integer or number fields, or
//     the elements of an array).
//   - required, or required=true|false.
//   - len_min=N: minimum length of a string, array or map.
//   - description=text: documentation only; it is not emitted, because the
//     metaschema of Kong 3.4 rejects it.
//
// Guarantees: Generate either returns a schema that satisfies Kong's
// MetaSubSchema (kong-reference §1.3) or an error naming the Go field and the
// attribute at fault; it never silently drops a field it cannot represent.
package kongschema

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Kong field types used by this package (a subset of Kong's valid types).
const (
	TypeString  = "string"
	TypeBoolean = "boolean"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeArray   = "array"
	TypeMap     = "map"
	TypeRecord  = "record"
)

// Field is one Kong schema field.
type Field struct {
	Name        string // empty for elements, keys and values
	Type        string
	Required    bool
	Default     json.RawMessage // compact JSON; nil when there is none
	OneOf       []any           // string, int64 or float64 values
	Between     []int64         // nil or [lo, hi]
	LenMin      *int
	Description string // documentation only, never emitted

	Elements *Field  // array
	Keys     *Field  // map
	Values   *Field  // map
	Fields   []Field // record
}

// Schema is a plugin's Kong subschema: a name and one record, config.
type Schema struct {
	Name   string
	Config Field
}

// MarshalJSON writes the schema in the shape Kong loads from a dump:
// {"name":…,"fields":[{"config":{"type":"record","fields":[…]}}]}.
func (s Schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"name":`)
	writeJSONString(&b, s.Name)
	b.WriteString(`,"fields":[{"config":`)
	if err := s.Config.writeJSON(&b); err != nil {
		return nil, err
	}
	b.WriteString(`}]}`)
	return b.Bytes(), nil
}

// MarshalJSON writes the field's attributes (not its name) in a fixed order,
// so that dumps are byte-for-byte reproducible.
func (f Field) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := f.writeJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (f *Field) writeJSON(b *bytes.Buffer) error {
	b.WriteString(`{"type":`)
	writeJSONString(b, f.Type)
	if f.Required {
		b.WriteString(`,"required":true`)
	}
	if f.Default != nil {
		b.WriteString(`,"default":`)
		b.Write(f.Default)
	}
	if f.OneOf != nil {
		one, err := json.Marshal(f.OneOf)
		if err != nil {
			return err
		}
		b.WriteString(`,"one_of":`)
		b.Write(one)
	}
	if f.Between != nil {
		b.WriteString(`,"between":[`)
		b.WriteString(strconv.FormatInt(f.Between[0], 10))
		b.WriteByte(',')
		b.WriteString(strconv.FormatInt(f.Between[1], 10))
		b.WriteByte(']')
	}
	if f.LenMin != nil {
		b.WriteString(`,"len_min":`)
		b.WriteString(strconv.Itoa(*f.LenMin))
	}
	for _, nested := range []struct {
		key   string
		field *Field
	}{{"elements", f.Elements}, {"keys", f.Keys}, {"values", f.Values}} {
		if nested.field == nil {
			continue
		}
		b.WriteString(`,"` + nested.key + `":`)
		if err := nested.field.writeJSON(b); err != nil {
			return err
		}
	}
	if f.Type == TypeRecord {
		// Always present, even when empty: Kong's metaschema requires
		// "fields" on every record.
		b.WriteString(`,"fields":[`)
		for i := range f.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			writeJSONString(b, f.Fields[i].Name)
			b.WriteByte(':')
			if err := f.Fields[i].writeJSON(b); err != nil {
				return err
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// Lookup returns the field at a dotted path below the config record
// ("limits.body_max_bytes"), or nil.
func (s *Schema) Lookup(path ...string) *Field {
	f := &s.Config
	for _, name := range path {
		var next *Field
		for i := range f.Fields {
			if f.Fields[i].Name == name {
				next = &f.Fields[i]
				break
			}
		}
		if next == nil {
			return nil
		}
		f = next
	}
	return f
}
