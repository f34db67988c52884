package metaschematest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema/metaschematest"
)

// The checker must be able to fail, or the tests built on it prove nothing.
func TestMetaSubSchemaCheckerRejectsWhatKongRejects(t *testing.T) {
	wrap := func(field string) string {
		return `{"name":"p","fields":[{"config":{"type":"record","fields":[{"x":` + field + `}]}}]}`
	}
	cases := []struct {
		name, schema, want string
	}{
		{"between on a string", wrap(`{"type":"string","between":[1,2]}`), "cannot have attribute 'between'"},
		{"an array without elements", wrap(`{"type":"array"}`), "must declare 'elements'"},
		{"a map without values", wrap(`{"type":"map","keys":{"type":"string"}}`), "must declare 'values'"},
		{"one_of on an array", wrap(`{"type":"array","elements":{"type":"string"},"one_of":["a"]}`), "cannot have attribute 'one_of'"},
		{"a description, unknown to Kong 3.4", wrap(`{"type":"string","description":"some text here"}`), "unknown field"},
		{"a default of the wrong type", wrap(`{"type":"integer","default":"403"}`), "expected an integer"},
		{"a default outside one_of", wrap(`{"type":"string","default":"x","one_of":["a"]}`), "expected one of"},
		{"non-integer between bounds", wrap(`{"type":"number","between":[0.5,1]}`), "expected two integers"},
		{"an unknown type", wrap(`{"type":"int"}`), "not a valid type"},
		{"a missing name", `{"fields":[]}`, "name: required"},
		{"a top-level field the plugins entity lacks", `{"name":"p","fields":[{"settings":{"type":"record","fields":[]}}]}`, "not a field of the plugins entity"},
	}
	for _, tc := range cases {
		t.Run("it rejects "+tc.name, func(t *testing.T) {
			err := metaschematest.Check([]byte(tc.schema))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("it accepts go-pdk's verified dump schema", func(t *testing.T) {
		goPDK := `{"name":"my-plugin","fields":[{"config":{"type":"record","fields":[
			{"message":{"type":"string"}},{"count":{"type":"integer"}},
			{"big":{"type":"integer","between":[0,2147483648]}},
			{"list":{"type":"array","elements":{"type":"string"}}},
			{"kv":{"type":"map","keys":{"type":"string"},"values":{"type":"integer"}}},
			{"nested":{"type":"record","fields":[{"depth":{"type":"integer"}}]}}]}}]}`
		require.NoError(t, metaschematest.Check([]byte(strings.ReplaceAll(goPDK, "\n", ""))))
	})
}
