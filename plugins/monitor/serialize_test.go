package monitor

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/gatewatch/gatewatch/pkg/detect"
	"github.com/gatewatch/gatewatch/pkg/event"
)

// TestAnEntryWithInvalidUTF8IsStillInspected: Kong's cjson passes raw bytes
// through, so an overlong-UTF-8 payload reaches the log handler as JSON
// that is not valid UTF-8. go-pdk's typed Serialize refuses it; the monitor
// must not, or the attacker's evasion works on it too.
func TestAnEntryWithInvalidUTF8IsStillInspected(t *testing.T) {
	engine, err := detect.New(nil)
	require.NoError(t, err)
	pub := &fakePublisher{}
	rt := &Runtime{Publisher: pub, IDs: event.NewIDGen(), Topic: "gatewatch.events", Engine: engine}
	k := serve(t, rt)
	st, err := k.StartInstance(Name, `{"detect":true,"paranoia":1,"__seq__":1}`)
	require.NoError(t, err)

	// Raw 0xc0 and 0xff bytes, as cjson writes them (interpreted strings).
	entry := strings.Replace(benign39, `"uri":"\/orders\/1"`,
		`"uri":"\/render?t=%c0%2e%c0%2e%2f%c0%2e%c0%2e%2fetc%2fpasswd","querystring":{"t":"`+"\xc0.\xc0./\xc0.\xc0./etc/passwd"+`"}`, 1)
	entry = strings.Replace(entry, `"user-agent":"curl\/8"`, `"user-agent":"curl\/8 `+"\xff"+`"`, 1)
	require.False(t, utf8.ValidString(entry))
	require.Error(t, proto.Unmarshal(mustMarshal(t, &kpp.ByteString{V: []byte(entry)}), &kpp.String{}),
		"the reply is one go-pdk's Serialize cannot decode")

	calls, err := k.HandleEvent(st.InstanceId, "log", func(method string, _ []byte) (proto.Message, bool) {
		if method == "kong.log.serialize" {
			// Same wire form as a String; ByteString lets the test send bytes
			// that are not UTF-8, as Kong does.
			return &kpp.ByteString{V: []byte(entry)}, false
		}
		return kongBridge(entry, "")(method, nil)
	})
	require.NoError(t, err)
	assert.Equal(t, "kong.log.serialize", calls[0].Method)
	assert.NotContains(t, methods(calls), "kong.log.err", "the handler did not fail")
	msgs := pub.all()
	require.Len(t, msgs, 1)
	var ev event.Event
	require.NoError(t, json.Unmarshal(msgs[0].Value, &ev))
	assert.Equal(t, event.AttackDetected, ev.Type)
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}
