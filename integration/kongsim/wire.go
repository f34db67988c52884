package kongsim

import (
	"math"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// marshalReply encodes a PDK reply. Kong's lua-protobuf does not check
// that string fields hold UTF-8, so a header value or request line with a
// raw 0xff byte reaches the plugin as is; Go's proto.Marshal would refuse
// it. String, Struct and Value replies — the ones that carry request bytes
// — are therefore encoded by hand; everything else goes through
// proto.Marshal.
func marshalReply(m proto.Message) ([]byte, error) {
	switch x := m.(type) {
	case *pb.String:
		if x.V == "" {
			return nil, nil
		}
		return appendBytesField(nil, 1, x.V), nil
	case *structpb.Struct:
		return appendStruct(nil, x), nil
	case *structpb.Value:
		return appendValue(nil, x), nil
	}
	return proto.Marshal(m)
}

func appendBytesField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendStruct(b []byte, s *structpb.Struct) []byte {
	for k, v := range s.GetFields() {
		var entry []byte
		entry = appendBytesField(entry, 1, k)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, appendValue(nil, v))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	return b
}

// appendValue encodes google.protobuf.Value; a set oneof member is always
// written, even when it holds its zero value.
func appendValue(b []byte, v *structpb.Value) []byte {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 0)
	case *structpb.Value_NumberValue:
		b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(k.NumberValue))
	case *structpb.Value_StringValue:
		b = appendBytesField(b, 3, k.StringValue)
	case *structpb.Value_BoolValue:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(k.BoolValue))
	case *structpb.Value_StructValue:
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, appendStruct(nil, k.StructValue))
	case *structpb.Value_ListValue:
		var l []byte
		for _, e := range k.ListValue.GetValues() {
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendBytes(l, appendValue(nil, e))
		}
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, l)
	}
	return b
}
