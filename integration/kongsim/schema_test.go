package kongsim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// monitorSchema is shaped like gatewatch's dump: defaults, one_of, between
// and a nested record.
const monitorSchema = `{"name":"gatewatch","fields":[{"config":{"type":"record","fields":[
 {"mode":{"type":"string","default":"monitor","one_of":["monitor","block"],"required":true}},
 {"sample_rate":{"type":"number","default":1,"between":[0,1]}},
 {"max_body":{"type":"integer","default":8192,"between":[0,1048576]}},
 {"topic":{"type":"string"}},
 {"log_all":{"type":"boolean","default":false}},
 {"apikey_names":{"type":"array","elements":{"type":"string"},"default":["apikey"]}},
 {"thresholds":{"type":"map","keys":{"type":"string"},"values":{"type":"integer"}}},
 {"redact":{"type":"record","fields":[{"headers":{"type":"set","elements":{"type":"string"}}},{"enabled":{"type":"boolean","default":true}}]}}
]}}]}`

// §1.3, Appendix A 2: Kong-style validation of plugin configs.
func TestValidateConfigLikeKong(t *testing.T) {
	cases := []struct {
		name string
		conf string
		want string // expected config after defaults (JSON) or ""
		err  []string
	}{
		{"an empty config gets every default and nested records", `{}`,
			`{"mode":"monitor","sample_rate":1,"max_body":8192,"log_all":false,"apikey_names":["apikey"],"redact":{"enabled":true}}`, nil},
		{"set values are kept and unset ones stay absent", `{"mode":"block","topic":"t"}`,
			`{"mode":"block","sample_rate":1,"max_body":8192,"log_all":false,"apikey_names":["apikey"],"topic":"t","redact":{"enabled":true}}`, nil},
		{"a value outside one_of names the field and the choices", `{"mode":"loud"}`, "",
			[]string{"config.mode: expected one of: monitor, block"}},
		{"an unknown key is rejected", `{"foo":1}`, "", []string{"config.foo: unknown field"}},
		{"an unknown nested key is rejected with its path", `{"redact":{"cookies":true}}`, "",
			[]string{"config.redact.cookies: unknown field"}},
		{"a wrong type is rejected", `{"topic":5}`, "", []string{"config.topic: expected a string"}},
		{"a fraction is not an integer", `{"max_body":1.5}`, "", []string{"config.max_body: expected an integer"}},
		{"between bounds are enforced", `{"sample_rate":2}`, "", []string{"config.sample_rate: value should be between 0 and 1"}},
		{"array elements are type-checked with their index", `{"apikey_names":["a",3]}`, "",
			[]string{"config.apikey_names.2: expected a string"}},
		{"map values are type-checked", `{"thresholds":{"a":"x"}}`, "", []string{"config.thresholds.a: expected an integer"}},
		{"every violation is reported", `{"mode":"x","foo":1}`, "",
			[]string{"config.foo: unknown field", "config.mode: expected one of: monitor, block"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.conf), &conf))
			got, err := ValidateConfig(json.RawMessage(monitorSchema), conf)
			if tc.err != nil {
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.err, ce.Problems)
				return
			}
			require.NoError(t, err)
			var want map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.want), &want))
			assert.Equal(t, want, got)
		})
	}
}

// §1.3: the metaschema rules kongsim applies to a dumped schema.
func TestDumpedSchemaIsCheckedAgainstTheMetaschema(t *testing.T) {
	cases := []struct {
		name, schema, err string
	}{
		{"go-pdk's mangled omitempty names are legal field names", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"x,omitempty":{"type":"string"}}]}}]}`, ""},
		{"a schema without name is rejected", `{"fields":[]}`, "name: required field missing"},
		{"an unknown type is rejected", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"text"}}]}}]}`, "missing or invalid type"},
		{"between on a string is rejected", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"string","between":[1,2]}}]}}]}`, "between: only allowed on integer and number"},
		{"an array without elements is rejected", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"array"}}]}}]}`, "elements: required field missing"},
		{"a default that fails its own one_of is rejected", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"string","one_of":["x"],"default":"y"}}]}}]}`, "default"},
		{"an unknown attribute is rejected", `{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"string","colour":"red"}}]}}]}`, "colour: unknown field"},
		{"a top-level field outside the plugins entity is rejected", `{"name":"p","fields":[{"extra":{"type":"string"}}]}`, "unknown field in plugins entity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePluginSchema(json.RawMessage(tc.schema))
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// §1.2: dump parsing as load_external_plugins_info and load_plugin_handler.
func TestParseDumpLikeKong(t *testing.T) {
	cases := []struct {
		name, dump, err string
	}{
		{"go-pdk's dump is accepted", `{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p","Priority":1000,"Version":"0.1","Phases":["access"],"Schema":{"name":"p","fields":[]}}]}`, ""},
		{"a missing protocol means MsgPack, which kongsim does not speak", `{"Plugins":[{"Name":"p","Priority":1,"Version":"1","Schema":{"name":"p","fields":[]}}]}`, "ProtoBuf:1 only"},
		{"an unknown protocol is rejected", `{"Protocol":"Carrier:1","Plugins":[]}`, "unknown protocol implementation"},
		{"a fractional priority is rejected", `{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p","Priority":1.5,"Version":"1","Schema":{"name":"p","fields":[]}}]}`, "PRIORITY field is not a valid integer number"},
		{"a four-part version is rejected", `{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p","Priority":1,"Version":"1.0.0.0","Schema":{"name":"p","fields":[]}}]}`, `VERSION field does not follow the "x.y.z" format`},
		{"a numeric version is rejected", `{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p","Priority":1,"Version":1,"Schema":{"name":"p","fields":[]}}]}`, `VERSION field`},
		{"garbage is a decode failure", `not json`, "failed decoding plugin info"},
		{"a scalar is not a plugin info table", `42`, "not a plugin info table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDump([]byte(tc.dump))
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func FuzzParseDump(f *testing.F) {
	f.Add([]byte(`{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p","Priority":1000,"Version":"0.1","Phases":["access"],"Schema":{"name":"p","fields":[{"config":{"type":"record","fields":[{"a":{"type":"array","elements":{"type":"string"},"default":["x"]}}]}}]}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseDump(data)
		if err == nil {
			_, _ = validateWith(info.config, map[string]any{"a": []any{"b"}})
		}
	})
}

func FuzzParseDeclarative(f *testing.F) {
	f.Add([]byte(authYML))
	f.Add([]byte("_format_version: \"3.0\"\nroutes: [ { paths: [\"~/(?<x>a+)\"] } ]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseDeclarative(data, 0, func(string) bool { return true })
	})
}
