package guard

import (
	"sort"
	"testing"

	"github.com/Kong/go-pdk/bridge"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// rawString encodes String{v} by hand, so that v may be invalid UTF-8,
// which Go's protobuf refuses to marshal but Kong (Lua) sends as is.
func rawString(v string) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendString(b, v)
}

// rawHeaders encodes a Struct of headers by hand, one entry per name: a
// string value for one value, a list for several.
func rawHeaders(names []string, values map[string][]string) []byte {
	var out []byte
	for _, n := range names {
		var val []byte
		if vs := values[n]; len(vs) == 1 {
			val = protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), vs[0])
		} else {
			var list []byte
			for _, v := range vs {
				item := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), v)
				list = protowire.AppendBytes(protowire.AppendTag(list, 1, protowire.BytesType), item)
			}
			val = protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), list)
		}
		entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), n)
		entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), val)
		out = protowire.AppendBytes(protowire.AppendTag(out, 1, protowire.BytesType), entry)
	}
	return out
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeString(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := decodeString([]byte{0x0a, 0x05, 'a'})
	assert.ErrorIs(t, err, errWire, "a truncated field is an error")
}

func TestDecodeHeaders(t *testing.T) {
	t.Run("it matches what go-pdk decodes for valid UTF-8", func(t *testing.T) {
		in := map[string][]string{"host": {"api.test"}, "x-multi": {"a", "b", "c"}, "cookie": {"s=1; t=2"}, "empty": {""}}
		st, err := bridge.WrapHeaders(in)
		require.NoError(t, err)
		raw, err := proto.Marshal(st)
		require.NoError(t, err)
		got, err := decodeHeaders(raw, nil)
		require.NoError(t, err)
		assert.Equal(t, headerList(in), sortedHeaders(got))
	})
	t.Run("a header value that is not UTF-8 is read, not a reason to skip the request", func(t *testing.T) {
		in := map[string][]string{"user-agent": {"\xff' OR 1=1--"}, "x-list": {"ok", "\xc3\x28"}}
		got, err := decodeHeaders(rawHeaders([]string{"user-agent", "x-list"}, in), nil)
		require.NoError(t, err)
		assert.Equal(t, headerList(in), sortedHeaders(got))
		// go-pdk's typed decoding refuses the same bytes: the guard would
		// have failed open on exactly this request.
		assert.Error(t, proto.Unmarshal(rawHeaders([]string{"user-agent"}, in), &structpb.Struct{}))
	})
	t.Run("a truncated struct is an error", func(t *testing.T) {
		raw := rawHeaders([]string{"host"}, map[string][]string{"host": {"api.test"}})
		_, err := decodeHeaders(raw[:len(raw)-2], nil)
		assert.ErrorIs(t, err, errWire)
	})
}

func sortedHeaders(hs []Header) []Header {
	out := append([]Header(nil), hs...)
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].Value < out[j].Value
	})
	return out
}

// FuzzDecodeHeaders: any bytes decode without panicking, and every header
// go-pdk's decoding finds is found here too.
func FuzzDecodeHeaders(f *testing.F) {
	for _, m := range []map[string][]string{{"host": {"a"}}, {"x": {"1", "2"}, "y": {""}}} {
		st, _ := bridge.WrapHeaders(m)
		raw, _ := proto.Marshal(st)
		f.Add(raw)
	}
	f.Add(rawHeaders([]string{"a"}, map[string][]string{"a": {"\xff"}}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := decodeHeaders(raw, nil)
		var st structpb.Struct
		if proto.Unmarshal(raw, &st) != nil {
			return
		}
		require.NoError(t, err, "go-pdk's decoder accepted it")
		want := map[string][]string{}
		for k, v := range st.Fields {
			switch x := v.Kind.(type) {
			case *structpb.Value_StringValue:
				want[k] = []string{x.StringValue}
			case *structpb.Value_ListValue:
				for _, e := range x.ListValue.Values {
					if s, ok := e.Kind.(*structpb.Value_StringValue); ok {
						want[k] = append(want[k], s.StringValue)
					}
				}
			}
		}
		// Where protobuf keeps only the last of repeated data (a map key
		// or a oneof given twice), the guard inspects every copy: what
		// go-pdk would see is a subset of what the guard sees.
		have := map[Header]bool{}
		for _, h := range got {
			have[h] = true
		}
		for _, h := range headerList(want) {
			assert.True(t, have[h], "header %q=%q decoded by protobuf but not by the guard", h.Name, h.Value)
		}
	})
}
