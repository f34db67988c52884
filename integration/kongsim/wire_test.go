package kongsim

import (
	"bytes"
	"testing"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The hand encoder produces what proto.Marshal would, for valid UTF-8.
func TestMarshalReplyMatchesProtoForValidUTF8(t *testing.T) {
	msgs := []proto.Message{
		&pb.String{V: "héllo"},
		&pb.String{},
		toStruct(map[string]any{"a": "x", "b": []any{"1", "2"}, "n": 1.5, "t": true, "z": nil, "m": map[string]any{"k": "v"}}),
		toValue(false),
	}
	for _, m := range msgs {
		b, err := marshalReply(m)
		require.NoError(t, err)
		got := m.ProtoReflect().New().Interface()
		require.NoError(t, proto.Unmarshal(b, got))
		assert.True(t, proto.Equal(m, got), "%v != %v", m, got)
	}
}

// §2.8: Kong passes bytes that are not UTF-8 through string fields.
func TestMarshalReplyKeepsRawBytes(t *testing.T) {
	raw := "a\xffb"
	b, err := marshalReply(&pb.String{V: raw})
	require.NoError(t, err)
	num, typ, n := protowire.ConsumeTag(b)
	require.Equal(t, protowire.Number(1), num)
	require.Equal(t, protowire.BytesType, typ)
	v, m := protowire.ConsumeBytes(b[n:])
	require.Positive(t, m)
	assert.Equal(t, []byte(raw), v)

	sb, err := marshalReply(toStruct(map[string]any{"x-evil": raw}))
	require.NoError(t, err)
	assert.True(t, bytes.Contains(sb, []byte(raw)))
}

// §5: cjson's string escaping.
func TestCJSONStringEscaping(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a/b", `"a\/b"`},
		{`q"\`, `"q\"\\"`},
		{"\n\t\x01\x7f", `"\n\t\u0001\u007f"`},
		{"é\xff", "\"é\xff\""},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		cjsonString(&buf, tc.in)
		assert.Equal(t, tc.want, buf.String(), "%q", tc.in)
	}
}
