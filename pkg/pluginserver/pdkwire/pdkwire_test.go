package pdkwire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawString encodes String{v} by hand, so that v may be invalid UTF-8,
// which Go's protobuf refuses to marshal but Kong (Lua) sends as is.
func rawString(v string) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func TestDecodeString(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"a request line", rawString("GET /a?b=c HTTP/1.1"), "GET /a?b=c HTTP/1.1"},
		{"an empty message is Kong's nil, the empty string", nil, ""},
		{"invalid UTF-8 is kept byte for byte, not refused", rawString("GET /\xff\xfe?q=' OR 1=1 HTTP/1.1"), "GET /\xff\xfe?q=' OR 1=1 HTTP/1.1"},
		{"unknown fields are skipped", append(protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 5), rawString("x")...), "x"},
		{"a serialized entry with raw bytes in it", []byte{0x0a, 0x03, 'a', 0xff, 'b'}, "a\xffb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeString(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := DecodeString([]byte{0x0a, 0x05, 'a'})
	assert.ErrorIs(t, err, ErrMalformed, "a truncated field is an error")
	_, err = DecodeString([]byte{0x0a})
	assert.ErrorIs(t, err, ErrMalformed, "a tag without its length is an error")
}

// FuzzNextField: the short way through NextField reads exactly what
// protowire reads.
func FuzzNextField(f *testing.F) {
	f.Add([]byte{0x0a, 0x01, 'a'})
	f.Add([]byte{0x0a, 0x7f})
	f.Add([]byte{0x02, 0x00})
	f.Add([]byte{0x08, 0x96, 0x01})
	f.Add(rawString(string(make([]byte, 200))))
	f.Fuzz(func(t *testing.T, b []byte) {
		num, typ, val, rest, err := NextField(b)
		wnum, wtyp, n := protowire.ConsumeTag(b)
		if n < 0 {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		var wval []byte
		m := 0
		if wtyp == protowire.BytesType {
			wval, m = protowire.ConsumeBytes(b[n:])
		} else {
			m = protowire.ConsumeFieldValue(wnum, wtyp, b[n:])
		}
		if m < 0 {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, wnum, num)
		assert.Equal(t, wtyp, typ)
		assert.Equal(t, wval, val)
		assert.Equal(t, b[n+m:], rest)
	})
}
