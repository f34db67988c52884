package kongschema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/kongschema/metaschematest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

type limits struct {
	BodyMaxBytes int `json:"body_max_bytes" kong:"default=8192;between=0|1048576"`
	MaxHeaders   int `json:"max_headers,omitempty" kong:"default=1000;between=1|1000"`
}

type embedded struct {
	Tag string `json:"tag" kong:"len_min=1;default=gw"`
}

type unexportedEmbedded struct {
	Promoted bool `json:"promoted" kong:"default=true"`
}

// richConfig exercises every type and attribute the package supports.
type richConfig struct {
	Mode        string            `json:"mode" kong:"default=monitor;one_of=monitor|block;description=monitor never blocks; block does"`
	BlockStatus int               `json:"block_status" kong:"default=403;between=100|599"`
	Severity    string            `json:"block_severity,omitempty" kong:"default=\"high\";one_of=low|medium|high|critical;description=lowest severity that blocks; required reading: docs"`
	Inspect     bool              `json:"inspect_body" kong:"default=false"`
	Ratio       float64           `json:"ratio" kong:"between=0|1"`
	Redact      []string          `json:"redact" kong:"default=[];len_min=0"`
	Methods     []string          `json:"methods" kong:"one_of=GET|POST;default=[\"GET\"]"`
	Codes       []int             `json:"codes" kong:"between=100|599"`
	Weights     map[string]int    `json:"weights" kong:"default={\"a;b\":1}"`
	Topic       *string           `json:"topic"`
	Small       int8              `json:"small"`
	Port        uint16            `json:"port" kong:"between=1|65535"`
	Limits      limits            `json:"limits"`
	Named       string            `json:"Named"`
	NoTag       string            // encoding/json uses the Go name
	Secret      string            `json:"-"`
	Note        map[string]string `json:"note" kong:"required"`
	embedded
	*unexportedEmbedded
	private string
}

func TestGenerateRichConfigMatchesGoldenAndKongsMetaschema(t *testing.T) {
	s, err := Generate("gatewatch-guard", &richConfig{})
	require.NoError(t, err)
	out, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, metaschematest.Check(out), "generated schema must satisfy Kong's MetaSubSchema")

	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, out, "", "  "))
	golden := filepath.Join("testdata", "rich.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), pretty.String())
}

func TestGenerateFields(t *testing.T) {
	s, err := Generate("p", &richConfig{})
	require.NoError(t, err)
	cases := []struct {
		name  string
		path  []string
		check func(t *testing.T, f *Field)
	}{
		{"the json name is used without its options", []string{"block_severity"}, func(t *testing.T, f *Field) {
			assert.Equal(t, TypeString, f.Type)
			assert.JSONEq(t, `"high"`, string(f.Default))
		}},
		{"a bare string default is the string itself", []string{"mode"}, func(t *testing.T, f *Field) {
			assert.JSONEq(t, `"monitor"`, string(f.Default))
			assert.Equal(t, []any{"monitor", "block"}, f.OneOf)
			assert.Equal(t, "monitor never blocks; block does", f.Description, "a description may hold ';'")
		}},
		{"integer bounds are integers", []string{"block_status"}, func(t *testing.T, f *Field) {
			assert.Equal(t, []int64{100, 599}, f.Between)
			assert.JSONEq(t, `403`, string(f.Default))
		}},
		{"one_of on a list constrains its elements", []string{"methods"}, func(t *testing.T, f *Field) {
			assert.Nil(t, f.OneOf)
			assert.Equal(t, []any{"GET", "POST"}, f.Elements.OneOf)
		}},
		{"between on a list of integers constrains its elements", []string{"codes"}, func(t *testing.T, f *Field) {
			assert.Equal(t, []int64{100, 599}, f.Elements.Between)
		}},
		{"a JSON default may hold a semicolon", []string{"weights"}, func(t *testing.T, f *Field) {
			assert.JSONEq(t, `{"a;b":1}`, string(f.Default))
		}},
		{"a pointer is its element type", []string{"topic"}, func(t *testing.T, f *Field) {
			assert.Equal(t, TypeString, f.Type)
		}},
		{"small Go integers carry their range", []string{"small"}, func(t *testing.T, f *Field) {
			assert.Equal(t, []int64{-128, 127}, f.Between)
		}},
		{"a narrower between replaces the Go range", []string{"port"}, func(t *testing.T, f *Field) {
			assert.Equal(t, []int64{1, 65535}, f.Between)
		}},
		{"a nested struct is a record with its own defaults", []string{"limits", "max_headers"}, func(t *testing.T, f *Field) {
			assert.JSONEq(t, `1000`, string(f.Default))
		}},
		{"an untagged field is named as encoding/json names it", []string{"NoTag"}, func(t *testing.T, f *Field) {
			assert.Equal(t, TypeString, f.Type)
		}},
		{"required is emitted", []string{"note"}, func(t *testing.T, f *Field) {
			assert.True(t, f.Required)
			assert.Equal(t, TypeMap, f.Type)
		}},
		{"embedded struct fields are promoted", []string{"tag"}, func(t *testing.T, f *Field) {
			assert.Equal(t, 1, *f.LenMin)
		}},
		{"fields of an unexported embedded struct are promoted too", []string{"promoted"}, func(t *testing.T, f *Field) {
			assert.JSONEq(t, `true`, string(f.Default))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := s.Lookup(tc.path...)
			require.NotNil(t, f, "field %v missing", tc.path)
			tc.check(t, f)
		})
	}
	assert.Nil(t, s.Lookup("Secret"), "json:\"-\" fields are left out")
	assert.Nil(t, s.Lookup("private"), "unexported fields are left out")
}

func TestGenerateRefusesInvalidTags(t *testing.T) {
	cases := []struct {
		name string
		cfg  any
		want string
	}{
		{"a default outside one_of", &struct {
			M string `json:"m" kong:"default=x;one_of=a|b"`
		}{}, "expected one of"},
		{"a default of the wrong type", &struct {
			N int `json:"n" kong:"default=\"403\""`
		}{}, "does not fit the field"},
		{"a default outside between", &struct {
			N int `json:"n" kong:"default=700;between=100|599"`
		}{}, "between 100 and 599"},
		{"a default that is not JSON", &struct {
			L []string `json:"l" kong:"default=[a]"`
		}{}, "not a JSON literal"},
		{"between on a string", &struct {
			S string `json:"s" kong:"between=1|2"`
		}{}, "not allowed on a string field"},
		{"one_of on a boolean", &struct {
			B bool `json:"b" kong:"one_of=true|false"`
		}{}, "not allowed on a boolean field"},
		{"between with reversed bounds", &struct {
			N int `json:"n" kong:"between=9|1"`
		}{}, "above upper bound"},
		{"between with fractional bounds", &struct {
			F float64 `json:"f" kong:"between=0.5|1"`
		}{}, "must be integers"},
		{"between wider than the Go type", &struct {
			N int8 `json:"n" kong:"between=0|1000"`
		}{}, "exceeds the Go type's range"},
		{"an attribute after the description", &struct {
			S string `json:"s" kong:"description=the mode; see docs;default=x"`
		}{}, "description must be the last attribute"},
		{"required after the description", &struct {
			S string `json:"s" kong:"description=the mode;required"`
		}{}, `found "required" after it`},
		{"an unknown attribute", &struct {
			S string `json:"s" kong:"defualt=x"`
		}{}, "unknown attribute"},
		{"an attribute given twice", &struct {
			S string `json:"s" kong:"default=a;default=b"`
		}{}, "given twice"},
		{"an empty attribute", &struct {
			S string `json:"s" kong:"default=a;;required"`
		}{}, "empty attribute"},
		{"unbalanced brackets", &struct {
			L []string `json:"l" kong:"default=[\"a\""`
		}{}, "unbalanced"},
		{"required with a bad value", &struct {
			S string `json:"s" kong:"required=yes"`
		}{}, "true or false"},
		{"len_min on an integer", &struct {
			N int `json:"n" kong:"len_min=1"`
		}{}, "not allowed on an integer field"},
		{"a default on a record", &struct {
			R struct {
				X int `json:"x"`
			} `json:"r" kong:"default={}"`
		}{}, "not allowed on a record"},
		{"a null default", &struct {
			N *int `json:"n" kong:"default=null"`
		}{}, "null is not a default"},
		{"an interface field", &struct {
			V any `json:"v"`
		}{}, "has no Kong type"},
		{"a byte slice", &struct {
			B []byte `json:"b"`
		}{}, "byte slices"},
		{"a map with integer keys", &struct {
			M map[int]string `json:"m"`
		}{}, "map keys must be strings"},
		{"two fields with one name", &struct {
			A string `json:"tag"`
			embedded
		}{}, "also used by"},
		{"a recursive type", &recursive{}, "recursive type"},
		{"not a struct", new(int), "must be a struct"},
	}
	for _, tc := range cases {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			_, err := Generate("p", tc.cfg)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

type recursive struct {
	Next *recursive `json:"next"`
}

func TestGenerateEmptyConfigStillHasFields(t *testing.T) {
	s, err := Generate("p", &struct{}{})
	require.NoError(t, err)
	out, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"p","fields":[{"config":{"type":"record","fields":[]}}]}`, string(out))
	require.NoError(t, metaschematest.Check(out))
}
