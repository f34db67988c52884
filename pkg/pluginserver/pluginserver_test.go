package pluginserver

import (
	"testing"

	"github.com/Kong/go-pdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type allPhases struct{}

func (*allPhases) Log(*pdk.PDK)         {}
func (*allPhases) Access(*pdk.PDK)      {}
func (*allPhases) Certificate(*pdk.PDK) {}
func (*allPhases) Rewrite(*pdk.PDK)     {}
func (*allPhases) Response(*pdk.PDK)    {}
func (*allPhases) Preread(*pdk.PDK)     {}

type logOnly struct {
	Topic string `json:"topic"`
}

func (*logOnly) Log(*pdk.PDK) {}

type noHandlers struct{}

type valueHandler struct{}

func (valueHandler) Access(*pdk.PDK) {}

func TestCompile(t *testing.T) {
	t.Run("phases are listed in go-pdk's order whatever the method order", func(t *testing.T) {
		c, err := compile(Plugin{Name: "p", Version: "1.0.0", New: func() any { return &allPhases{} }})
		require.NoError(t, err)
		assert.Equal(t, []string{"certificate", "rewrite", "access", "response", "preread", "log"}, c.phases)
	})
	t.Run("a log-only plugin has the log phase only", func(t *testing.T) {
		c, err := compile(Plugin{Name: "gatewatch", Version: "0.1.0", New: func() any { return &logOnly{} }})
		require.NoError(t, err)
		assert.Equal(t, []string{"log"}, c.phases)
	})

	refusals := []struct {
		name string
		p    Plugin
		want string
	}{
		{"a config without handlers", Plugin{Name: "p", Version: "1.0.0", New: func() any { return &noHandlers{} }}, "no phase handler"},
		{"New returning a struct value", Plugin{Name: "p", Version: "1.0.0", New: func() any { return valueHandler{} }}, "non-nil pointer to a struct"},
		{"New returning nil", Plugin{Name: "p", Version: "1.0.0", New: func() any { return nil }}, "non-nil pointer to a struct"},
		{"a nil New", Plugin{Name: "p", Version: "1.0.0"}, "New is nil"},
		{"an upper-case name", Plugin{Name: "Gatewatch", Version: "1.0.0", New: func() any { return &logOnly{} }}, "plugin name"},
		{"a four-part version", Plugin{Name: "p", Version: "1.0.0.0", New: func() any { return &logOnly{} }}, "x.y.z"},
		{"a version with letters", Plugin{Name: "p", Version: "v1.0", New: func() any { return &logOnly{} }}, "x.y.z"},
	}
	for _, tc := range refusals {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			_, err := compile(tc.p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
