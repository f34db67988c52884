package notify

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"gopkg.in/yaml.v3"
)

// DecodeSettings decodes a receiver's settings from the rule file into dst
// (a pointer to an integration's config struct with yaml tags), rejecting
// keys dst does not have. Errors are *alert.FieldError with the line.
func DecodeSettings(spec alert.ReceiverSpec, dst any) error {
	known := map[string]bool{"name": true, "type": true}
	yamlKeys(reflect.TypeOf(dst).Elem(), known)
	n := spec.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !known[k.Value] {
			return &alert.FieldError{File: spec.File, Line: k.Line, Field: spec.Path + "." + k.Value, Msg: "unknown field for receiver type " + spec.Type}
		}
	}
	if err := n.Decode(dst); err != nil {
		line := spec.Line
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			var l int
			if _, serr := fmt.Sscanf(te.Errors[0], "line %d:", &l); serr == nil {
				line = l
			}
		}
		return &alert.FieldError{File: spec.File, Line: line, Field: spec.Path, Msg: err.Error()}
	}
	return nil
}

// yamlKeys collects the yaml key names of struct type t, descending into
// inline fields.
func yamlKeys(t reflect.Type, into map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			yamlKeys(f.Type, into)
		case name != "" && name != "-":
			into[name] = true
		}
	}
}

// Secret is a credential read from the environment or a file. Its String
// and GoString never reveal the value, so it is safe in logs and errors.
type Secret struct{ value string }

// Value returns the secret itself, for the request that needs it.
func (s Secret) Value() string { return s.value }

// String hides the value.
func (s Secret) String() string { return "[redacted]" }

// GoString hides the value.
func (s Secret) GoString() string { return "notify.Secret{[redacted]}" }

// SecretRef is how a config names a secret: an environment variable or a
// file (trailing newline trimmed). Exactly one must be set when the secret
// is required.
type SecretRef struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// ErrNoSecret is returned when a required secret is not configured or empty.
var ErrNoSecret = errors.New("secret not set")

// Resolve reads the secret. The error names the variable or file, never the
// value.
func (r SecretRef) Resolve(field string) (Secret, error) {
	switch {
	case r.Env != "" && r.File != "":
		return Secret{}, fmt.Errorf("%s: set env or file, not both", field)
	case r.Env != "":
		v := os.Getenv(r.Env)
		if v == "" {
			return Secret{}, fmt.Errorf("%s: environment variable %s: %w", field, r.Env, ErrNoSecret)
		}
		return Secret{value: v}, nil
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return Secret{}, fmt.Errorf("%s: %w", field, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return Secret{}, fmt.Errorf("%s: file %s: %w", field, r.File, ErrNoSecret)
		}
		return Secret{value: v}, nil
	}
	return Secret{}, fmt.Errorf("%s: %w (give env or file)", field, ErrNoSecret)
}

// IsSet reports whether the reference names a source.
func (r SecretRef) IsSet() bool { return r.Env != "" || r.File != "" }
