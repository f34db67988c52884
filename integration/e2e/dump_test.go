package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type dump struct {
	Protocol string `json:"Protocol"`
	Plugins  []struct {
		Name     string          `json:"Name"`
		Priority json.Number     `json:"Priority"`
		Version  string          `json:"Version"`
		Phases   []string        `json:"Phases"`
		Schema   json.RawMessage `json:"Schema"`
	} `json:"Plugins"`
}

type schemaField map[string]struct {
	Type     string          `json:"type"`
	Default  json.RawMessage `json:"default"`
	OneOf    []any           `json:"one_of"`
	Between  []float64       `json:"between"`
	Required bool            `json:"required"`
	Fields   []schemaField   `json:"fields"`
}

// Both binaries answer -dump with what Kong 3.x parses (kong-reference
// §1.2–1.3): protocol, name, integral priority, an x.y.z version, the
// phases, and a schema whose config fields carry defaults.
func TestDumpIsWhatKongAccepts(t *testing.T) {
	cases := []struct {
		bin      string
		phases   []string
		priority string
		defaults []string // config fields that must carry a default
	}{
		{"gatewatch", []string{"log"}, "3", []string{"events", "latency_threshold_ms", "admin_api", "log_all_requests", "apikey_names", "detect", "paranoia"}},
		{"gatewatch-guard", []string{"access"}, "", []string{"mode"}},
	}
	version := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for _, c := range cases {
		t.Run(c.bin, func(t *testing.T) {
			out, err := exec.Command(filepath.Join(binDir, c.bin), "-dump").Output()
			require.NoError(t, err)
			var d dump
			require.NoError(t, json.Unmarshal(out, &d), "%s", out)
			assert.Equal(t, "ProtoBuf:1", d.Protocol)
			require.Len(t, d.Plugins, 1)
			p := d.Plugins[0]
			assert.Equal(t, c.bin, p.Name)
			assert.Equal(t, c.phases, p.Phases)
			assert.Regexp(t, version, p.Version)
			_, err = p.Priority.Int64()
			require.NoError(t, err, "priority is an integer")
			if c.priority != "" {
				assert.Equal(t, c.priority, p.Priority.String())
			}
			var schema struct {
				Name   string        `json:"name"`
				Fields []schemaField `json:"fields"`
			}
			require.NoError(t, json.Unmarshal(p.Schema, &schema))
			assert.Equal(t, c.bin, schema.Name)
			require.Len(t, schema.Fields, 1)
			cfg, ok := schema.Fields[0]["config"]
			require.True(t, ok, "the schema's only top-level field is config")
			assert.Equal(t, "record", cfg.Type)
			byName := map[string]bool{}
			for _, f := range cfg.Fields {
				for name, def := range f {
					assert.NotContains(t, name, ",", "no go-pdk omitempty names")
					byName[name] = len(def.Default) > 0
				}
			}
			for _, want := range c.defaults {
				assert.True(t, byName[want], "config.%s carries a default", want)
			}
		})
	}
}
