package native

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
	"github.com/gatewatch/gatewatch/pkg/event/encode/internal/sample"
)

func TestEveryTypeMatchesItsGoldenFile(t *testing.T) {
	for _, ev := range sample.Events() {
		t.Run(string(ev.Type), func(t *testing.T) {
			out, err := Encoder{}.Append(nil, &ev)
			require.NoError(t, err)
			sample.Golden(t, string(ev.Type)+".json", out)
		})
	}
}

func TestNativeIsTheEventsOwnEncodingAndDecodesBack(t *testing.T) {
	for _, ev := range append(sample.Events(), sample.Hostile()) {
		t.Run(string(ev.Type)+"/"+ev.ID, func(t *testing.T) {
			prefix := []byte("prefix:")
			out, err := Encoder{}.Append(prefix, &ev)
			require.NoError(t, err)
			assert.Equal(t, "prefix:", string(out[:7]), "Append appends")
			assert.Equal(t, ev.AppendJSON(nil), out[7:])
			var back event.Event
			require.NoError(t, json.Unmarshal(out[7:], &back))
			assert.Equal(t, ev.ID, back.ID)
			assert.Equal(t, ev.Type, back.Type)
		})
	}
}

func TestANilEventIsAnError(t *testing.T) {
	_, err := Encoder{}.Append(nil, nil)
	assert.Error(t, err)
}
