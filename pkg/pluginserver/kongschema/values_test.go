package kongschema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

func TestCompleteFillsLikeKong(t *testing.T) {
	s, err := Generate("p", &richConfig{})
	require.NoError(t, err)
	cases := []struct {
		name, in, want string
	}{
		{"absent fields get their defaults and absent records are created",
			`{"__seq__":3}`,
			`{"__seq__":3,"mode":"monitor","block_status":403,"block_severity":"high","inspect_body":false,
			  "redact":[],"methods":["GET"],"weights":{"a;b":1},"limits":{"body_max_bytes":8192,"max_headers":1000},
			  "tag":"gw","promoted":true}`},
		{"given values are kept and nulls are dropped or defaulted",
			`{"mode":"block","topic":null,"limits":{"max_headers":50},"block_status":null}`,
			`{"mode":"block","block_status":403,"block_severity":"high","inspect_body":false,
			  "redact":[],"methods":["GET"],"weights":{"a;b":1},"limits":{"body_max_bytes":8192,"max_headers":50},
			  "tag":"gw","promoted":true}`},
		{"an empty object where a list belongs becomes an empty list",
			`{"redact":{},"codes":{}}`,
			`{"mode":"monitor","block_status":403,"block_severity":"high","inspect_body":false,
			  "redact":[],"codes":[],"methods":["GET"],"weights":{"a;b":1},"limits":{"body_max_bytes":8192,"max_headers":1000},
			  "tag":"gw","promoted":true}`},
		{"an empty list where a map or record belongs becomes an empty object",
			`{"note":[],"limits":[]}`,
			`{"mode":"monitor","block_status":403,"block_severity":"high","inspect_body":false,
			  "redact":[],"methods":["GET"],"weights":{"a;b":1},"limits":{"body_max_bytes":8192,"max_headers":1000},
			  "note":{},"tag":"gw","promoted":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeJSON(t, tc.in)
			s.Complete(m)
			got, err := json.Marshal(m)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}

	t.Run("defaults are copied, not shared between configs", func(t *testing.T) {
		a, b := map[string]any{}, map[string]any{}
		s.Complete(a)
		s.Complete(b)
		a["methods"].([]any)[0] = "POST"
		assert.Equal(t, "GET", b["methods"].([]any)[0])
	})
}

func TestCheckValidatesLikeKong(t *testing.T) {
	s, err := Generate("p", &richConfig{})
	require.NoError(t, err)
	valid := `{"note":{}}`
	cases := []struct {
		name, in, wantErr string
	}{
		{"a minimal config with the required field passes", valid, ""},
		{"an unknown field is named", `{"note":{},"modee":"block"}`, "config.modee: unknown field"},
		{"a missing required field is named", `{}`, "config.note: required field missing"},
		{"a value outside one_of is named", `{"note":{},"mode":"deny"}`, "config.mode: expected one of: monitor, block"},
		{"a string for an integer is named", `{"note":{},"block_status":"403"}`, "config.block_status: expected an integer"},
		{"a fraction for an integer is named", `{"note":{},"block_status":403.5}`, "config.block_status: expected an integer"},
		{"a value outside between is named", `{"note":{},"block_status":700}`, "config.block_status: value should be between 100 and 599"},
		{"a bad list element is named by position", `{"note":{},"methods":["GET","PUT"]}`, "config.methods[2]: expected one of: GET, POST"},
		{"a bad map value is named by key", `{"note":{"k":1}}`, "config.note.k: expected a string"},
		{"a nested record field is checked", `{"note":{},"limits":{"max_headers":0}}`, "config.limits.max_headers: value should be between 1 and 1000"},
		{"a short string is refused", `{"note":{},"tag":""}`, "config.tag: length must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(&s.Config, decodeJSON(t, tc.in))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.wantErr, err.Error())
		})
	}
}

func TestSchemaReadBackFromItsJSON(t *testing.T) {
	generated, err := Generate("gatewatch-guard", &richConfig{})
	require.NoError(t, err)
	out, err := json.Marshal(generated)
	require.NoError(t, err)

	var parsed Schema
	require.NoError(t, json.Unmarshal(out, &parsed))
	again, err := json.Marshal(parsed)
	require.NoError(t, err)
	assert.JSONEq(t, string(out), string(again), "a dumped schema must read back to the same schema")

	t.Run("the read-back schema completes and checks configs like the generated one", func(t *testing.T) {
		for _, in := range []string{`{"note":{}}`, `{"note":{},"mode":"deny"}`, `{"block_status":"x"}`, `{"note":{},"redact":{}}`} {
			a, b := decodeJSON(t, in), decodeJSON(t, in)
			generated.Complete(a)
			parsed.Complete(b)
			assert.Equal(t, a, b)
			errA, errB := Check(&generated.Config, a), Check(&parsed.Config, b)
			assert.Equal(t, errA, errB, "input %s", in)
		}
	})

	refusals := []struct{ name, schema, want string }{
		{"an attribute it cannot check", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"x":{"type":"string","match":"^a"}}]}}]}`, "match: attribute not supported"},
		{"an array without elements", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"x":{"type":"array"}}]}}]}`, "array without elements"},
		{"a schema without config", `{"name":"p","fields":[]}`, "no config record"},
		{"a string in one_of of an integer", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"x":{"type":"integer","one_of":["a"]}}]}}]}`, "one_of"},
	}
	for _, tc := range refusals {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			var s Schema
			err := json.Unmarshal([]byte(tc.schema), &s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// FuzzSchemaUnmarshal: a dump read by an emulator never panics the reader,
// and whatever it accepts writes back to JSON it accepts again unchanged.
func FuzzSchemaUnmarshal(f *testing.F) {
	s, err := Generate("p", &richConfig{})
	require.NoError(f, err)
	seed, err := json.Marshal(s)
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte(`{"name":"p","fields":[{"config":{"type":"record","fields":[{"x":{"type":"map","keys":{"type":"string"},"values":{"type":"array","elements":{"type":"number"}}}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Schema
		if json.Unmarshal(data, &s) != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("accepted schema does not marshal: %v", err)
		}
		var again Schema
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("written schema not accepted: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}
