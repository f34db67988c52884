package event

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/internal/jsonschema"
)

func loadSchema(t *testing.T) *jsonschema.Schema {
	data, err := os.ReadFile("../../docs/event.schema.json")
	require.NoError(t, err)
	s, err := jsonschema.Parse(data)
	require.NoError(t, err)
	return s
}

func TestEncodedEventsValidateAgainstThePublishedSchema(t *testing.T) {
	s := loadSchema(t)
	full := sampleEvent()
	for _, typ := range Types {
		ev := full
		ev.Type = typ
		assert.Empty(t, s.Validate(ev.AppendJSON(nil)), "type %s", typ)
	}
}

func TestTheSchemaRejectsWhatTheContractForbids(t *testing.T) {
	s := loadSchema(t)
	cases := map[string]string{
		"an unknown type":       `{"schema_version":1,"id":"x","time":"2026-01-01T00:00:00Z","type":"nope","severity":"low","kong":{"route":{},"service":{}},"client":{"consumer":{}},"request":{},"response":{"status":1,"latency":{"kong_ms":0,"upstream_ms":0,"total_ms":0}},"detail":{}}`,
		"a missing id":          `{"schema_version":1,"time":"2026-01-01T00:00:00Z","type":"auth.failure","severity":"low","kong":{"route":{},"service":{}},"client":{"consumer":{}},"request":{},"response":{"status":1,"latency":{"kong_ms":0,"upstream_ms":0,"total_ms":0}},"detail":{}}`,
		"an undocumented field": `{"schema_version":1,"id":"x","time":"2026-01-01T00:00:00Z","type":"auth.failure","severity":"low","kong":{"route":{},"service":{}},"client":{"consumer":{}},"request":{},"response":{"status":1,"latency":{"kong_ms":0,"upstream_ms":0,"total_ms":0}},"detail":{},"secret":"x"}`,
		"a fractional status":   `{"schema_version":1,"id":"x","time":"2026-01-01T00:00:00Z","type":"auth.failure","severity":"low","kong":{"route":{},"service":{}},"client":{"consumer":{}},"request":{},"response":{"status":1.5,"latency":{"kong_ms":0,"upstream_ms":0,"total_ms":0}},"detail":{}}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.NotEmpty(t, s.Validate([]byte(doc)))
		})
	}
}

// Every type and severity the code knows is documented, and nothing more.
func TestTheSchemaEnumeratesExactlyTheKnownTypesAndSeverities(t *testing.T) {
	s := loadSchema(t)
	for _, typ := range Types {
		ev := sampleEvent()
		ev.Type = typ
		assert.Empty(t, s.Validate(ev.AppendJSON(nil)))
	}
	for _, sev := range Severities {
		ev := sampleEvent()
		ev.Severity = sev
		assert.Empty(t, s.Validate(ev.AppendJSON(nil)))
	}
	docs, err := os.ReadFile("../../docs/events.md")
	require.NoError(t, err)
	for _, typ := range Types {
		assert.Contains(t, string(docs), "`"+string(typ)+"`", "docs/events.md documents %s", typ)
	}
}
