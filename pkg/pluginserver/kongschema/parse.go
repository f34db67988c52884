package kongschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// UnmarshalJSON reads a schema in the shape of a plugin server's dump
// (what MarshalJSON writes), so that a Kong emulator can apply Kong's
// defaults (Complete) and validation (Check) to configs from the dumped
// schema alone. Attributes this package cannot check are refused rather
// than ignored, so that no constraint is silently skipped.
func (s *Schema) UnmarshalJSON(data []byte) error {
	var top struct {
		Name   string                       `json:"name"`
		Fields []map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("kongschema: %w", err)
	}
	if top.Name == "" {
		return errors.New("kongschema: schema has no name")
	}
	var config *Field
	for _, entry := range top.Fields {
		raw, ok := entry["config"]
		if !ok || len(entry) != 1 {
			continue // other plugin-entity fields (protocols, …) are Kong's
		}
		config = new(Field)
		if err := config.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("kongschema: config: %w", err)
		}
	}
	if config == nil || config.Type != TypeRecord {
		return errors.New("kongschema: schema has no config record")
	}
	config.Name = "config"
	*s = Schema{Name: top.Name, Config: *config}
	return nil
}

// UnmarshalJSON reads one field's attributes (its name comes from the
// enclosing fields entry).
func (f *Field) UnmarshalJSON(data []byte) error {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(data, &attrs); err != nil {
		return err
	}
	var out Field
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := json.Unmarshal(attrs["type"], &out.Type); err != nil || out.Type == "" {
		return errors.New("missing type")
	}
	for _, k := range keys {
		raw := attrs[k]
		var err error
		switch k {
		case "type":
		case "required":
			err = json.Unmarshal(raw, &out.Required)
		case "default":
			var compact bytes.Buffer
			if err = json.Compact(&compact, raw); err == nil {
				out.Default = compact.Bytes()
			}
		case "one_of":
			var list []any
			if err = json.Unmarshal(raw, &list); err == nil {
				out.OneOf, err = oneOfValues(out.Type, list)
			}
		case "between":
			var pair []float64
			if err = json.Unmarshal(raw, &pair); err == nil {
				if len(pair) != 2 || pair[0] != math.Trunc(pair[0]) || pair[1] != math.Trunc(pair[1]) {
					err = errors.New("want two integers")
				} else {
					out.Between = []int64{int64(pair[0]), int64(pair[1])}
				}
			}
		case "len_min":
			var n int
			if err = json.Unmarshal(raw, &n); err == nil {
				out.LenMin = &n
			}
		case "elements", "keys", "values":
			sub := new(Field)
			if err = sub.UnmarshalJSON(raw); err == nil {
				switch k {
				case "elements":
					out.Elements = sub
				case "keys":
					out.Keys = sub
				default:
					out.Values = sub
				}
			}
		case "fields":
			var entries []map[string]json.RawMessage
			if err = json.Unmarshal(raw, &entries); err == nil {
				out.Fields = make([]Field, 0, len(entries))
				for _, e := range entries {
					if len(e) != 1 {
						err = errors.New("each fields entry must hold one field")
						break
					}
					for name, fraw := range e {
						var sub Field
						if err = sub.UnmarshalJSON(fraw); err != nil {
							err = fmt.Errorf("%s: %w", name, err)
							break
						}
						sub.Name = name
						out.Fields = append(out.Fields, sub)
					}
					if err != nil {
						break
					}
				}
			}
		default:
			err = errors.New("attribute not supported by this checker")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	if err := checkShape(&out); err != nil {
		return err
	}
	*f = out
	return nil
}

func oneOfValues(typ string, list []any) ([]any, error) {
	out := make([]any, 0, len(list))
	for _, v := range list {
		switch x := v.(type) {
		case string:
			if typ != TypeString {
				return nil, fmt.Errorf("%q in one_of of a %s field", x, typ)
			}
			out = append(out, x)
		case float64:
			switch {
			case typ == TypeInteger && x == math.Trunc(x):
				out = append(out, int64(x))
			case typ == TypeNumber:
				out = append(out, x)
			default:
				return nil, fmt.Errorf("%v in one_of of a %s field", x, typ)
			}
		default:
			return nil, fmt.Errorf("unsupported one_of value %v", v)
		}
	}
	return out, nil
}

// checkShape refuses a type this package cannot check or a field missing
// what its type needs.
func checkShape(f *Field) error {
	switch f.Type {
	case TypeString, TypeBoolean, TypeInteger, TypeNumber:
	case TypeArray:
		if f.Elements == nil {
			return errors.New("array without elements")
		}
	case TypeMap:
		if f.Keys == nil || f.Values == nil {
			return errors.New("map without keys or values")
		}
	case TypeRecord:
		if f.Fields == nil {
			f.Fields = []Field{}
		}
	default:
		return fmt.Errorf("type %q not supported by this checker", f.Type)
	}
	return nil
}
