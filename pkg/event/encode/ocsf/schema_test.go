package ocsf

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ocsfSchema validates documents against the OCSF schema's own source files
// (testdata/ocsf-schema-1.8.0, copied unmodified from github.com/ocsf/ocsf-schema
// tag 1.8.0 under the Apache License 2.0): the dictionary, the event classes
// with their extends chain and profiles, and the objects. It checks what a
// consumer relies on: required attributes, at_least_one/just_one
// constraints, no attribute the class or object does not define, JSON types,
// enumerated ids that the schema defines, and captions that match their ids.
type ocsfSchema struct {
	dir     string
	dict    map[string]attr
	types   map[string]string // derived type → base type
	classes map[string]string // class or category name → file
}

type attr struct {
	Type        string                     `json:"type"`
	IsArray     bool                       `json:"is_array"`
	Requirement string                     `json:"requirement"`
	Enum        map[string]json.RawMessage `json:"enum"`
	Sibling     string                     `json:"sibling"`
}

type def struct {
	Name        string                     `json:"name"`
	UID         int                        `json:"uid"`
	Extends     string                     `json:"extends"`
	Category    string                     `json:"category"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints map[string][]string        `json:"constraints"`
}

func loadSchema(t *testing.T) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: filepath.Join("testdata", "ocsf-schema-1.8.0"), types: map[string]string{}, classes: map[string]string{}}
	var dict struct {
		Attributes map[string]attr `json:"attributes"`
		Types      struct {
			Attributes map[string]struct {
				Type string `json:"type"`
			} `json:"attributes"`
		} `json:"types"`
	}
	s.read(t, "dictionary.json", &dict)
	s.dict = dict.Attributes
	for k, v := range dict.Types.Attributes {
		s.types[k] = v.Type
	}
	err := filepath.Walk(filepath.Join(s.dir, "events"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		var d def
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(s.dir, p)
		s.classes[d.Name] = rel
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *ocsfSchema) read(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, rel))
	if err != nil {
		t.Fatalf("ocsf schema: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("ocsf schema: %s: %v", rel, err)
	}
}

// resolved is a class or object with its extends chain and profiles merged.
type resolved struct {
	uid         int
	category    string
	attrs       map[string]attr
	constraints map[string][]string
}

func (s *ocsfSchema) resolve(t *testing.T, rel string) resolved {
	t.Helper()
	var d def
	s.read(t, rel, &d)
	r := resolved{uid: d.UID, category: d.Category, attrs: map[string]attr{}, constraints: map[string][]string{}}
	if d.Extends != "" && d.Extends != "object" {
		var parent resolved
		if strings.HasPrefix(rel, "objects") {
			parent = s.resolve(t, filepath.Join("objects", d.Extends+".json"))
		} else {
			parent = s.resolve(t, s.classes[d.Extends])
		}
		maps.Copy(r.attrs, parent.attrs)
		maps.Copy(r.constraints, parent.constraints)
		if r.category == "" {
			r.category = parent.category
		}
	}
	if inc, ok := d.Attributes["$include"]; ok {
		var files []string
		if err := json.Unmarshal(inc, &files); err != nil {
			t.Fatalf("ocsf schema: %s: $include: %v", rel, err)
		}
		for _, f := range files {
			var p def
			s.read(t, f, &p)
			// A profile's attributes may appear; its required ones are
			// required only of events that apply the profile, and
			// gatewatch's events apply none.
			added := map[string]attr{}
			s.merge(t, added, p.Attributes)
			for n, a := range added {
				if _, had := r.attrs[n]; !had && a.Requirement == "required" {
					a.Requirement = "optional"
				}
				r.attrs[n] = a
			}
		}
	}
	s.merge(t, r.attrs, d.Attributes)
	maps.Copy(r.constraints, d.Constraints)
	return r
}

// merge overlays one definition's attribute refinements on the dictionary's
// attribute and on what the parent already said; enums add up.
func (s *ocsfSchema) merge(t *testing.T, into map[string]attr, raw map[string]json.RawMessage) {
	for name, js := range raw {
		if name == "$include" {
			continue
		}
		a, ok := into[name]
		if !ok {
			a = s.dict[name]
		}
		var over attr
		if err := json.Unmarshal(js, &over); err != nil {
			t.Fatalf("ocsf schema: attribute %s: %v", name, err)
		}
		if over.Requirement != "" {
			a.Requirement = over.Requirement
		}
		if over.Type != "" {
			a.Type = over.Type
		}
		if len(over.Enum) > 0 {
			e := map[string]json.RawMessage{}
			maps.Copy(e, a.Enum)
			maps.Copy(e, over.Enum)
			a.Enum = e
		}
		into[name] = a
	}
}

func (s *ocsfSchema) baseType(t string) string {
	for {
		b, ok := s.types[t]
		if !ok || b == "" {
			return t
		}
		t = b
	}
}

// validateEvent checks one encoded event; it returns every violation.
func (s *ocsfSchema) validateEvent(t *testing.T, doc []byte) []string {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	uid, _ := v["class_uid"].(json.Number).Int64()
	var cls resolved
	found := false
	for name, rel := range s.classes {
		if !strings.Contains(rel, "/") || name == "base_event" {
			continue
		}
		r := s.resolve(t, rel)
		if r.uid == 0 || r.category == "" {
			continue
		}
		var cats struct {
			Attributes map[string]struct {
				UID int `json:"uid"`
			} `json:"attributes"`
		}
		s.read(t, "categories.json", &cats)
		if int64(cats.Attributes[r.category].UID*1000+r.uid) == uid {
			cls, found = r, true
			cat, _ := v["category_uid"].(json.Number).Int64()
			if cat != int64(cats.Attributes[r.category].UID) {
				return []string{fmt.Sprintf("category_uid %d is not %s's %d", cat, r.category, cats.Attributes[r.category].UID)}
			}
			break
		}
	}
	if !found {
		return []string{fmt.Sprintf("class_uid %d is not a class in the schema", uid)}
	}
	var errs []string
	s.validate(t, cls, v, "$", &errs)
	return errs
}

func (s *ocsfSchema) validate(t *testing.T, d resolved, v map[string]any, path string, errs *[]string) {
	names := make([]string, 0, len(d.attrs))
	for n := range d.attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d.attrs[n].Requirement == "required" {
			if _, ok := v[n]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: missing required %q", path, n))
			}
		}
	}
	for kind, list := range d.constraints {
		n := 0
		for _, a := range list {
			if _, ok := v[a]; ok {
				n++
			}
		}
		if (kind == "at_least_one" && n == 0) || (kind == "just_one" && n != 1) {
			*errs = append(*errs, fmt.Sprintf("%s: constraint %s %v not met", path, kind, list))
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, ok := d.attrs[k]
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: attribute %q is not defined here", path, k))
			continue
		}
		s.value(t, k, a, v[k], path+"."+k, errs)
		if len(a.Enum) > 0 && strings.HasSuffix(k, "_id") {
			cap := strings.TrimSuffix(k, "_id")
			if a.Sibling != "" {
				cap = a.Sibling
			}
			if got, ok := v[cap].(string); ok {
				var e struct {
					Caption string `json:"caption"`
				}
				_ = json.Unmarshal(a.Enum[fmt.Sprint(v[k])], &e)
				if id := fmt.Sprint(v[k]); id != "99" && e.Caption != got {
					*errs = append(*errs, fmt.Sprintf("%s: %s %q does not match %s %s (%q)", path, cap, got, k, id, e.Caption))
				}
			}
		}
	}
}

func (s *ocsfSchema) value(t *testing.T, name string, a attr, v any, path string, errs *[]string) {
	if a.IsArray {
		arr, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: expected an array", path))
			return
		}
		one := a
		one.IsArray = false
		for i, x := range arr {
			s.value(t, name, one, x, fmt.Sprintf("%s[%d]", path, i), errs)
		}
		return
	}
	switch bt := s.baseType(a.Type); bt {
	case "string_t":
		if _, ok := v.(string); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: expected a string, got %T", path, v))
		}
	case "integer_t", "long_t", "float_t":
		n, ok := v.(json.Number)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: expected a number, got %T", path, v))
			return
		}
		if bt != "float_t" {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				*errs = append(*errs, fmt.Sprintf("%s: expected an integer, got %s", path, n))
			}
		}
		// The schema server generates class_uid and category_uid enums from
		// the class files; validateEvent checks those against the classes.
		if len(a.Enum) > 0 && name != "class_uid" && name != "category_uid" {
			if _, ok := a.Enum[string(n)]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: %s is not in the enumeration", path, n))
			}
		}
	case "boolean_t":
		if _, ok := v.(bool); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: expected a boolean, got %T", path, v))
		}
	case "json_t", "object":
	case "":
		*errs = append(*errs, fmt.Sprintf("%s: attribute %q has no type in the dictionary", path, name))
	default:
		obj, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: expected object %s, got %T", path, a.Type, v))
			return
		}
		s.validate(t, s.resolve(t, filepath.Join("objects", a.Type+".json")), obj, path, errs)
	}
}
