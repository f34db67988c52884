package guard

import (
	"sort"
	"testing"

	"github.com/Kong/go-pdk/bridge"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatewatch/gatewatch/pkg/pluginserver/pdkwire"
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
		assert.ErrorIs(t, err, pdkwire.ErrMalformed)
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

func TestDecodeRawBody(t *testing.T) {
	field := func(num protowire.Number, v string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	cases := []struct {
		name     string
		in       []byte
		wantKind int
		want     string
	}{
		{"a body in the reply", field(1, `{"a":1}`), bodyContent, `{"a":1}`},
		{"an empty body is still a body", field(1, ""), bodyContent, ""},
		{"bytes that are not UTF-8 are kept", field(1, "\xff\xfe"), bodyContent, "\xff\xfe"},
		{"a body buffered to a file", field(2, "/tmp/body"), bodyFilepath, "/tmp/body"},
		{"Kong's error", field(3, "Can't read request body"), bodyError, "Can't read request body"},
		{"an empty reply is no body", nil, bodyNone, ""},
		{"unknown fields are skipped", append(protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 5), field(1, "x")...), bodyContent, "x"},
		{"of two kinds the last one counts, as in protobuf", append(field(1, "x"), field(2, "/f")...), bodyFilepath, "/f"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, v, err := decodeRawBody(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.wantKind, kind)
			assert.Equal(t, tc.want, string(v))
		})
	}
	_, _, err := decodeRawBody([]byte{0x0a, 0x05, 'a'})
	assert.ErrorIs(t, err, pdkwire.ErrMalformed, "a length past the end")
}

// FuzzDecodeRawBody: any bytes decode without panicking, and whatever
// go-pdk's decoding makes of a reply, this makes too.
func FuzzDecodeRawBody(f *testing.F) {
	for _, m := range []*kpp.RawBodyResult{
		{Kind: &kpp.RawBodyResult_Content{Content: []byte("abc")}},
		{Kind: &kpp.RawBodyResult_BodyFilepath{BodyFilepath: "/tmp/x"}},
		{Kind: &kpp.RawBodyResult_Error{Error: "no"}},
		{},
	} {
		raw, _ := proto.Marshal(m)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		kind, v, err := decodeRawBody(raw)
		var m kpp.RawBodyResult
		if proto.Unmarshal(raw, &m) != nil {
			return
		}
		require.NoError(t, err, "go-pdk's decoder accepted it")
		switch k := m.Kind.(type) {
		case *kpp.RawBodyResult_Content:
			assert.Equal(t, bodyContent, kind)
			assert.Equal(t, string(k.Content), string(v))
		case *kpp.RawBodyResult_BodyFilepath:
			assert.Equal(t, bodyFilepath, kind)
			assert.Equal(t, k.BodyFilepath, string(v))
		case *kpp.RawBodyResult_Error:
			assert.Equal(t, bodyError, kind)
			assert.Equal(t, k.Error, string(v))
		default:
			assert.Equal(t, bodyNone, kind)
		}
	})
}
